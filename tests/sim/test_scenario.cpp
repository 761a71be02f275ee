#include <gtest/gtest.h>

#include "mdevsim/sim/scenario.h"
#include "sim_run.h"

namespace mdevsim::sim {
namespace {

using mdevsim::testing::test_scenario_path;
using mdevsim::testing::write_named_scenario;

// Loads `text` and returns the error ("" if it loaded).
std::string load_error(const std::string& text, std::vector<std::string> overrides = {}) {
  try {
    load_scenario(write_named_scenario("bad", text), overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Scenario, EverySectionIsRead) {
  const auto path = write_named_scenario("full", R"({
    // comments are allowed
    "name": "full", "seed": 9, "duration": "3s",
    "device": {"vram": "16GiB", "page_size": "64KiB", "contexts": 8, "protocol": "v1",
               "features": ["stop_copy", "p2p"], "stop_latency": "1ms", "precopy_empty": "zero"},
    "workload": {"kind": "zipf", "dirty_rate": "2GiB/s", "exponent": 1.2, "dma_rate": "64MiB/s",
                 "region": {"offset": "1GiB", "size": "2GiB"}},
    "vm": {"ram": "16GiB", "page_size": "4KiB", "vcpus": 8, "dma_dirty_tracking": false},
    "guest": {"kind": "hotset", "dirty_rate": "200MiB/s", "hot_fraction": 0.05},
    "link": {"bandwidth": "25Gbit/s", "latency": "50us", "rate_limit": "1GiB/s"},
    "migration": {"start_at": "100ms", "mode": "precopy", "downtime_limit": "300ms",
                  "auto_converge": true, "max_iterations": 20, "on_no_convergence": "force"},
    "faults": [{"at": "2s", "kind": "link_down", "duration": "500ms"}]
  })");
  const Scenario s = load_scenario(path);
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.seed, 9u);
  EXPECT_DOUBLE_EQ(s.duration_s, 3.0);
  EXPECT_EQ(s.device.config.vram_bytes, uint64_t{16} << 30);
  EXPECT_EQ(s.device.config.contexts, 8u);
  EXPECT_EQ(s.device.protocol, "v1");
  EXPECT_FALSE(s.device.precopy_enomsg);
  EXPECT_DOUBLE_EQ(s.device.config.stop_latency_s, 1e-3);
  EXPECT_EQ(s.workload.vram.kind, models::PatternKind::kZipf);
  EXPECT_EQ(s.workload.vram.region_first_page, 16384u);
  EXPECT_EQ(s.workload.vram.region_pages, 32768u);
  EXPECT_DOUBLE_EQ(s.workload.dma_rate_bytes_per_s, 64.0 * 1048576);
  EXPECT_FALSE(s.vm.dma_dirty_tracking);
  EXPECT_EQ(s.guest.kind, models::PatternKind::kHotset);
  EXPECT_DOUBLE_EQ(s.link.bandwidth, 25e9 / 8);
  ASSERT_TRUE(s.link.rate_limit.has_value());
  EXPECT_TRUE(s.migrates);
  EXPECT_TRUE(s.migration.auto_converge);
  EXPECT_EQ(s.migration.on_no_convergence, OnNoConvergence::kForce);
  ASSERT_EQ(s.faults.size(), 1u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::kLinkDown);
}

TEST(Scenario, MalformedJsonNamesLineAndColumn) {
  const std::string e = load_error("{\n  \"name\": \"x\",\n  oops\n}");
  EXPECT_NE(e.find("malformed JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_EQ(e.find(test_scenario_path("bad")), 0u) << "starts with the file: " << e;
}

TEST(Scenario, UnknownKeyIsNamedWithItsPath) {
  const std::string e = load_error(R"({"device": {"vram": "1GiB", "vrma": "2GiB"}})");
  EXPECT_NE(e.find("/device/vrma: unknown key"), std::string::npos) << e;
  EXPECT_NE(load_error(R"({"devcie": {}})").find("/devcie: unknown key"), std::string::npos);
}

TEST(Scenario, BadUnitNegativeSizeAndRangeErrorsNameThePath) {
  std::string e = load_error(R"({"device": {"vram": "4GB/s"}})");
  EXPECT_NE(e.find("/device/vram: '4GB/s' is not a size"), std::string::npos) << e;
  e = load_error(R"({"device": {"vram": "-4GiB"}})");
  EXPECT_NE(e.find("/device/vram"), std::string::npos) << e;
  EXPECT_NE(e.find("negative"), std::string::npos) << e;
  e = load_error(
      R"({"workload": {"kind": "hotset", "dirty_rate": "1GiB/s", "hot_fraction": 1.5}})");
  EXPECT_NE(e.find("/workload/hot_fraction: must be between 0 and 1"), std::string::npos) << e;
  e = load_error(R"({"device": {"page_size": "3KiB"}})");
  EXPECT_NE(e.find("/device/page_size: must be a power of two"), std::string::npos) << e;
  e = load_error(R"({"device": {"vram": "128GiB"}})");
  EXPECT_NE(e.find("/device/vram: must be between one page and 64GiB"), std::string::npos) << e;
  e = load_error(R"({"workload": {"kind": "spiral"}})");
  EXPECT_NE(e.find("/workload/kind: unknown pattern 'spiral'"), std::string::npos) << e;
  e = load_error(R"({"device": {"contexts": "many"}})");
  EXPECT_NE(e.find("/device/contexts: must be a whole number"), std::string::npos) << e;
  e = load_error(R"({"migration": {"mode": "teleport"}})");
  EXPECT_NE(e.find("/migration/mode"), std::string::npos) << e;
  e = load_error(R"({"migration": {"mode": "postcopy"}})");
  EXPECT_NE(e.find("/migration/mode: postcopy needs a device protocol that defines post-copy"),
            std::string::npos)
      << e;
  e = load_error(R"({"device": {"protocol": "v3"}})");
  EXPECT_NE(e.find("/device/protocol: v3: no such protocol"), std::string::npos) << e;
  e = load_error(R"({"device": {"protocol": "v1-postcopy-101b"}})");
  EXPECT_NE(e.find("is a v1-style (register bits) protocol"), std::string::npos) << e;
  e = load_error(R"({"device": {"protocol": "v2-postcopy", "features": ["stop_copy"]},
                     "migration": {"mode": "hybrid"}})");
  EXPECT_NE(e.find("needs the device feature post_copy"), std::string::npos) << e;
  e = load_error(R"({"faults": [{"at": "1s", "kind": "meteor"}]})");
  EXPECT_NE(e.find("/faults/0/kind"), std::string::npos) << e;
  e = load_error(R"({"workload": {"kind": "phased", "phases": [{"kind": "uniform"}]}})");
  EXPECT_NE(e.find("/workload/phases/0/duration"), std::string::npos) << e;
  e = load_error(R"({"device": {"features": ["p2p"]}})");
  EXPECT_NE(e.find("stop_copy is mandatory"), std::string::npos) << e;
}

TEST(Scenario, OverridesAreValidatedLikeTheFileAndNamed) {
  const auto path = write_named_scenario("ov", R"({"device": {"vram": "1GiB"}})");
  EXPECT_EQ(load_scenario(path, {"device.vram=2GiB"}).device.config.vram_bytes, uint64_t{2} << 30);
  EXPECT_EQ(load_scenario(path, {"seed=77"}).seed, 77u);
  std::string e = load_error(R"({"device": {"vram": "1GiB"}})", {"device.vram=lots"});
  EXPECT_NE(e.find("--set device.vram=lots"), std::string::npos) << e;
  EXPECT_NE(e.find("/device/vram"), std::string::npos) << e;
  e = load_error("{}", {"device.colour=blue"});
  EXPECT_NE(e.find("/device/colour: unknown key"), std::string::npos) << e;
  e = load_error("{}", {"novalue"});
  EXPECT_NE(e.find("PATH=VALUE"), std::string::npos) << e;
}

// An override can break a key it did not set: the error names that key and
// says the file as written is fine, so the user looks at the --set, not the file.
TEST(Scenario, AnOverrideThatBreaksAnotherKeySaysTheFileIsValid) {
  const std::string qemu_file = R"({"migration": {"loop": "qemu", "switchover_ack": true}})";
  EXPECT_EQ(load_error(qemu_file), "") << "the file itself loads";
  std::string e = load_error(qemu_file, {"migration.loop=passes"});
  EXPECT_NE(e.find(": /migration/switchover_ack: needs migration.loop: qemu (after --set "
                   "migration.loop=passes: the scenario file itself is valid)"),
            std::string::npos)
      << e;
  const std::string postcopy_file = R"({"device": {"protocol": "v2-postcopy",
      "features": ["stop_copy", "p2p", "pre_copy", "post_copy"]},
      "migration": {"mode": "postcopy"}})";
  EXPECT_EQ(load_error(postcopy_file), "");
  e = load_error(postcopy_file, {"seed=3", "device.protocol=v2"});
  // v2 has no post_copy feature: the file's features list is what breaks.
  EXPECT_NE(e.find("/device/features/3: must be one of stop_copy,p2p,pre_copy; got \"post_copy\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(after --set seed=3, --set device.protocol=v2: the scenario file itself is "
                   "valid)"),
            std::string::npos)
      << e;
  // A file that is itself broken gets no such remark: the override is not to blame.
  e = load_error(R"({"migration": {"switchover_ack": true}})", {"seed=3"});
  EXPECT_NE(e.find("/migration/switchover_ack: needs migration.loop: qemu"), std::string::npos)
      << e;
  EXPECT_EQ(e.find("the scenario file itself is valid"), std::string::npos) << e;
}

TEST(Scenario, KernelGenerationIsADeviceOption) {
  EXPECT_FALSE(load_scenario(write_named_scenario("k0", "{}")).device.kernel_before_2025)
      << "current";
  const auto path = write_named_scenario("k1", R"({"device": {"kernel": "before-2025"}})");
  EXPECT_TRUE(load_scenario(path).device.kernel_before_2025);
  EXPECT_FALSE(load_scenario(path, {"device.kernel=current"}).device.kernel_before_2025);
  const std::string e = load_error(R"({"device": {"kernel": "6.1"}})");
  EXPECT_NE(e.find("/device/kernel"), std::string::npos) << e;
}

TEST(Scenario, MissingFileIsAnInputError) {
  EXPECT_THROW(load_scenario("/nonexistent/scenario.json"), InputError);
}

TEST(Scenario, ABareZeroIsZeroInEveryUnit) {
  const auto s = load_scenario(write_named_scenario("zero", R"({"migration": {"timeout": 0,
      "postcopy_after": "0"}, "workload": {"dma_rate": 0}})"),
                               {"link.latency=0"});
  EXPECT_EQ(s.migration.timeout_s, 0.0) << "0: no limit";
  EXPECT_EQ(s.migration.postcopy_after_s, 0.0);
  EXPECT_EQ(s.workload.dma_rate_bytes_per_s, 0.0);
  EXPECT_EQ(s.link.latency_s, 0.0);
  EXPECT_NE(load_error(R"({"link": {"latency": 1}})").find("/link/latency: must be a string"),
            std::string::npos);
}

TEST(Scenario, DuplicateKeysAreRefusedWithTheirPointer) {
  EXPECT_NE(load_error(R"({"seed": 1, "seed": 2})").find(": /seed: the key appears twice"),
            std::string::npos);
  EXPECT_NE(load_error(R"({"guest": {"phases": [{"duration": "1s"},
      {"duration": "1s", "kind": "uniform", "kind": "hotset"}], "kind": "phased"}})")
                .find("/guest/phases/1/kind: the key appears twice"),
            std::string::npos)
      << load_error(R"({"guest": {"phases": [{"duration": "1s"}, {"kind": "a", "kind": "b"}]}})");
  EXPECT_EQ(load_error(R"({"device": {"vram": "1GiB"}, "vm": {"ram": "1GiB"}})"), "")
      << "the same key in two objects is fine";
}

TEST(Scenario, PatternKeysMustApplyToTheKind) {
  struct Case {
    const char* pattern;
    const char* error;
  };
  for (const Case c : {Case{R"("kind": "hotset", "exponent": 2)",
                            "/guest/exponent: does not apply "
                            "to a hotset pattern"},
                       Case{R"("fps": 30)", "/guest/fps: does not apply to a uniform pattern"},
                       Case{R"("kind": "zipf", "hot_fraction": 0.2)", "/guest/hot_fraction"},
                       Case{R"("kind": "streaming", "frame_size": "4KiB")", "/guest/frame_size"},
                       Case{R"("kind": "phased", "dirty_rate": "1GiB/s", "phases": [{"duration":
                             "1s"}])",
                            "/guest/dirty_rate: does not apply to a phased pattern"}})
    EXPECT_NE(load_error(std::string(R"({"guest": {)") + c.pattern + "}}").find(c.error),
              std::string::npos)
        << c.pattern << ": " << load_error(std::string(R"({"guest": {)") + c.pattern + "}}");
  EXPECT_EQ(load_error(R"({"guest": {"kind": "framebuffer", "fps": 30, "frame_size": "8KiB"}})"),
            "");
}

TEST(Scenario, ATraceFileMustBeARegularFile) {
  EXPECT_NE(load_error(R"({"guest": {"kind": "trace", "trace_file": "/dev/zero"}})")
                .find("/guest/trace_file: /dev/zero: is not a regular file"),
            std::string::npos);
  EXPECT_NE(load_error(R"({"guest": {"kind": "trace", "trace_file": "/"}})").find("is a directory"),
            std::string::npos);
  EXPECT_NE(load_error(R"({"guest": {"kind": "trace", "trace_file": "nope.trace"}})")
                .find("nope.trace: the file does not exist"),
            std::string::npos);
}

// Found by fuzz_scenario: a number too large for a double escaped the loader
// as nlohmann's out_of_range and ended the process.
TEST(Scenario, ANumberTooLargeIsMalformedJsonNotACrash) {
  EXPECT_NE(load_error(R"({"seed": 5500e10000})")
                .find("malformed JSON: number overflow parsing "
                      "'5500e10000'"),
            std::string::npos)
      << load_error(R"({"seed": 5500e10000})");
}

// Found by fuzz_scenario: a --set value that is not UTF-8 made the error
// message's json::dump throw (the process ended); the exact crashing input.
TEST(Scenario, ASetThatIsNotUtf8IsRefusedNotACrash) {
  const std::string err =
      load_error(R"({"device": {"vram": "64MiB"}})", {"device.vram.at\xf2=\"s"});
  EXPECT_NE(err.find("--set"), std::string::npos) << err;
  EXPECT_NE(err.find("not valid UTF-8"), std::string::npos) << err;
  EXPECT_EQ(load_error(R"({"device": {"vram": "64MiB"}})", {"name=caf\xc3\xa9"}), "")
      << "valid UTF-8 is accepted";
}

// migration.postcopy_preempt: QEMU's postcopy-preempt capability (off by
// default), which QEMU refuses without postcopy-ram.
TEST(Scenario, PostcopyPreemptIsOffByDefaultAndNeedsPostcopy) {
  const std::string postcopy = R"({"device": {"protocol": "v2-postcopy",
      "features": ["stop_copy", "p2p", "pre_copy", "post_copy"]},
      "migration": {"mode": "postcopy"}})";
  const auto path = write_named_scenario("preempt", postcopy);
  EXPECT_FALSE(load_scenario(path).migration.postcopy_preempt);
  EXPECT_TRUE(load_scenario(path, {"migration.postcopy_preempt=true"}).migration.postcopy_preempt);
  EXPECT_TRUE(load_scenario(path, {"migration.mode=hybrid", "migration.postcopy_preempt=true"})
                  .migration.postcopy_preempt);
  const std::string e = load_error(R"({"migration": {"postcopy_preempt": true}})");
  EXPECT_NE(e.find("/migration/postcopy_preempt: needs mode postcopy or hybrid (QEMU: "
                   "\"Postcopy preempt requires postcopy-ram\")"),
            std::string::npos)
      << e;
  EXPECT_EQ(load_error(R"({"migration": {"postcopy_preempt": false}})"), "");
}

}  // namespace
}  // namespace mdevsim::sim
