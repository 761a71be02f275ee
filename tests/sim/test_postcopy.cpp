// Post-copy and hybrid migration (protocol proposal v2-postcopy) through the
// built binary: bit-exact verification, exact fault counts, the downtime
// against pre-copy, and what a link failure costs in each mode.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using nlohmann::json;

json run(const std::string& scenario, const std::string& extra = "", int* code = nullptr) {
  const auto r = mdevsim::testing::run_cli("run " + scenario + " --json - " + extra);
  if (code) *code = r.code;
  return r.out.empty() ? json() : json::parse(r.out);
}

std::string scenario(const std::string& name) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/" + name;
}

std::string temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/pc." + std::to_string(getpid()) + "." + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Postcopy, WriteHeavyJobCompletesWithTenTimesLessDowntimeThanForcedPrecopy) {
  int code = -1;
  const json pc = run(scenario("postcopy-write-heavy.json"), "", &code);
  ASSERT_EQ(pc["outcome"], "completed") << pc["reason"];
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(pc["verification"]["passed"].get<bool>()) << pc["verification"].dump();
  EXPECT_EQ(pc["postcopy"]["pages_sent_twice"], 0);
  // The same job under pre-copy cannot converge; forced, its downtime is the
  // whole hot set over the link.
  const json pre =
      run(scenario("write-heavy-noconverge.json"), "--set migration.on_no_convergence=force");
  ASSERT_FALSE(pre["converged"].get<bool>());
  const double forced = pre["downtime_s"].get<double>(), post = pc["downtime_s"].get<double>();
  EXPECT_GE(forced, 10 * post) << "pre-copy forced " << forced << " s, post-copy " << post << " s";
  // Post-copy costs show up instead as stalls and a risk window.
  EXPECT_GT(pc["postcopy"]["faults"].get<uint64_t>(), 0u);
  EXPECT_GT(pc["postcopy"]["risk_window_s"].get<double>(), post);
  EXPECT_LE(pc["postcopy"]["stall_p50_s"].get<double>(),
            pc["postcopy"]["stall_p99_s"].get<double>());
}

TEST(Postcopy, HybridFaultsLessThanPurePostcopyOnTheHotSet) {
  const json hybrid = run(scenario("hybrid-inference-hotset.json"));
  const json pure = run(scenario("hybrid-inference-hotset.json"), "--set migration.mode=postcopy");
  ASSERT_EQ(hybrid["outcome"], "completed") << hybrid["reason"];
  ASSERT_EQ(pure["outcome"], "completed") << pure["reason"];
  EXPECT_TRUE(hybrid["verification"]["passed"].get<bool>());
  EXPECT_TRUE(pure["verification"]["passed"].get<bool>());
  EXPECT_EQ(hybrid["iterations"].size(), 1u) << "one pre-copy round, then post-copy";
  EXPECT_EQ(pure["iterations"].size(), 0u);
  EXPECT_LT(hybrid["postcopy"]["faults"].get<uint64_t>(),
            pure["postcopy"]["faults"].get<uint64_t>());
}

// A trace writes K distinct pages before the migration and touches each of
// them three times after the switch: exactly K faults, no duplicate fetch.
TEST(Postcopy, KDistinctMissingPagesCauseExactlyKFaults) {
  constexpr int K = 40;
  std::string trace =
      "# before the migration: pages 0..K-1 written once\n0.01 0 " + std::to_string(K) + "\n";
  for (int round = 0; round < 3; ++round)
    for (int p = 0; p < K; ++p)
      trace += std::to_string(0.40 + 0.01 * round + 0.0001 * p) + " " + std::to_string(p) + "\n";
  trace += "0.45 1000 5\n";  // pages never written at the source are not missing: no fault
  const std::string trace_file = temp("k.trace", trace);
  const std::string scen = temp("k.json", R"({
    "device": { "vram": "256MiB", "page_size": "64KiB", "protocol": "v2-postcopy",
                "features": ["stop_copy", "p2p", "pre_copy", "post_copy"] },
    "workload": { "kind": "trace", "trace_file": ")" +
                                              trace_file + R"(" },
    "vm": { "ram": "64MiB" },
    "guest": { "kind": "uniform", "dirty_rate": "0B/s" },
    "link": { "bandwidth": "10Gbit/s" },
    "migration": { "start_at": "300ms", "mode": "postcopy", "background_push": false, "prefetch_pages": 0,
                   "run_after": "500ms" }
  })");
  const json r = run(scen);
  ASSERT_EQ(r["outcome"], "completed") << r.dump();
  EXPECT_TRUE(r["verification"]["passed"].get<bool>());
  EXPECT_EQ(r["postcopy"]["missing_vram_pages_at_switch"], K);
  EXPECT_EQ(r["postcopy"]["device_faults"], K);
  EXPECT_EQ(r["postcopy"]["vram_pages_fetched"], K);
  EXPECT_EQ(r["postcopy"]["pages_sent_twice"], 0);
}

TEST(Postcopy, LinkFailureLosesTheVmInPostcopyButCancelsSafelyInPrecopy) {
  int code = -1;
  const json pc = run(scenario("postcopy-link-failure.json"), "", &code);
  EXPECT_EQ(pc["outcome"], "vm_lost");
  EXPECT_EQ(code, 1);
  EXPECT_NE(pc["reason"].get<std::string>().find("split across the hosts"), std::string::npos)
      << pc["reason"];
  EXPECT_FALSE(pc["verification"]["passed"].get<bool>());
  // The same fault while still pre-copying: cancelled, the source intact.
  const json pre = run(scenario("postcopy-link-failure.json"),
                       "--set migration.mode=precopy --set device.protocol=v2 "
                       "--set 'device.features=[\"stop_copy\",\"p2p\",\"pre_copy\"]'");
  EXPECT_EQ(pre["outcome"], "cancelled") << pre["reason"];
  EXPECT_TRUE(pre["verification"]["source_intact"].get<bool>());
}

TEST(Postcopy, RamOnlyProposalStopCopiesTheDeviceAndPostcopiesRam) {
  const json r = run(scenario("postcopy-write-heavy.json"),
                     "--set device.protocol=v2-postcopy-ram-only --set "
                     "'device.features=[\"stop_copy\",\"p2p\",\"pre_copy\"]'");
  ASSERT_EQ(r["outcome"], "completed") << r["reason"];
  EXPECT_TRUE(r["verification"]["passed"].get<bool>());
  EXPECT_EQ(r["postcopy"]["device_faults"], 0);
  EXPECT_GT(r["postcopy"]["missing_ram_pages_at_switch"].get<uint64_t>(), 0u);
  // The device's whole state moves during the downtime.
  EXPECT_GT(r["downtime_s"].get<double>(),
            10 * run(scenario("postcopy-write-heavy.json"))["downtime_s"].get<double>());
}

TEST(Postcopy, PollingDeliveryStallsLongerThanEventfd) {
  const json ev = run(scenario("postcopy-write-heavy.json"));
  const json poll =
      run(scenario("postcopy-write-heavy.json"), "--set device.protocol=v2-postcopy-poll");
  ASSERT_EQ(poll["outcome"], "completed") << poll["reason"];
  EXPECT_GT(poll["postcopy"]["stall_p50_s"].get<double>(),
            ev["postcopy"]["stall_p50_s"].get<double>());
}

TEST(Postcopy, HybridSwitchesOnItsTimeBudget) {
  // The write-heavy job never converges; 30 rounds would take many seconds,
  // a 2 s budget switches after the round that crosses it.
  const json r = run(scenario("postcopy-write-heavy.json"),
                     "--set migration.mode=hybrid --set migration.postcopy_after_iterations=30 "
                     "--set migration.postcopy_after=2s");
  ASSERT_EQ(r["outcome"], "completed") << r["reason"];
  ASSERT_FALSE(r["iterations"].empty());
  const auto& last = r["iterations"].back();
  const double end = last["start_s"].get<double>() + last["duration_s"].get<double>();
  EXPECT_GE(end - 0.3, 2.0) << "pre-copy ran at least the budget (migration starts at 0.3 s)";
  EXPECT_LT(r["iterations"].size(), 30u);
  EXPECT_FALSE(r["postcopy"].is_null());
}

TEST(Postcopy, DeterministicAndTheByteCopyPathGivesTheSameRun) {
  json a = run(scenario("postcopy-write-heavy.json"));
  json b = run(scenario("postcopy-write-heavy.json"));
  EXPECT_EQ(a.dump(), b.dump()) << "same scenario and seed";
  json c = run(scenario("postcopy-write-heavy.json"), "--exact");
  a.erase("abi");  // splice vs read/write calls differ; nothing else may
  c.erase("abi");
  EXPECT_EQ(a.dump(), c.dump());
}

// Pages now travel while requests are in flight, on one channel or two
// (postcopy_preempt), and are placed a link latency after they leave: every
// page still arrives with the source's content at its stop, VRAM and RAM
// alike, and the destination carries on as the never-migrated reference.
TEST(Postcopy, PagesInFlightStillVerifyBitExactWithAndWithoutPreempt) {
  for (const char* extra :
       {"--set link.latency=1ms", "--set link.latency=1ms --set migration.postcopy_preempt=true",
        "--set link.latency=1ms --set migration.postcopy_preempt=true --exact",
        "--set link.latency=1ms --set migration.postcopy_preempt=true --set "
        "device.protocol=v2-postcopy-ram-only --set "
        "'device.features=[\"stop_copy\",\"p2p\",\"pre_copy\"]'"}) {
    SCOPED_TRACE(extra);
    int code = -1;
    const json r = run(scenario("postcopy-write-heavy.json"), extra, &code);
    ASSERT_EQ(r["outcome"], "completed") << r["reason"];
    EXPECT_EQ(code, 0);
    const auto& v = r["verification"];
    EXPECT_TRUE(v["passed"].get<bool>()) << v.dump();
    EXPECT_EQ(v["vram_pages_mismatched"], 0);
    EXPECT_EQ(v["ram_pages_mismatched"], 0);
    EXPECT_EQ(v["device_fields_mismatched"], 0);
    EXPECT_TRUE(v["continuation_matches"].get<bool>()) << v.dump();
    EXPECT_EQ(r["postcopy"]["pages_sent_twice"], 0);
    EXPECT_GT(r["postcopy"]["faults"].get<uint64_t>(), 0u);
  }
}

TEST(Postcopy, ModeNeedsAProtocolThatDefinesIt) {
  const auto r = mdevsim::testing::run_cli("run " + scenario("quickstart.json") +
                                           " --set migration.mode=postcopy");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/migration/mode"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("needs a device protocol that defines post-copy"), std::string::npos)
      << r.err;
}

}  // namespace

// `converged` means QEMU's rule fired. A hybrid run whose pre-copy round
// expects more downtime than the limit switches to post-copy without it; the
// same run with a limit above that expectation converges and stop-copies.
TEST(Postcopy, SwitchoverReasonIsPostcopyUnlessTheRuleFired) {
  const json hybrid = run(scenario("hybrid-inference-hotset.json"));
  ASSERT_EQ(hybrid["iterations"].size(), 1u);
  const auto& it = hybrid["iterations"][0];
  const double expected = it["remaining_bytes"].get<double>() / it["bandwidth"].get<double>();
  ASSERT_GT(expected, 0.3) << "the round does not meet the 300 ms limit";
  EXPECT_EQ(hybrid["switchover"], "postcopy");
  EXPECT_FALSE(hybrid["converged"].get<bool>());

  const json pure = run(scenario("postcopy-write-heavy.json"));
  EXPECT_EQ(pure["iterations"].size(), 0u);
  EXPECT_EQ(pure["switchover"], "postcopy");
  EXPECT_FALSE(pure["converged"].get<bool>()) << "no iteration, no rule";

  const json generous = run(scenario("hybrid-inference-hotset.json"),
                            "--set migration.downtime_limit=" +
                                std::to_string(static_cast<int>(expected * 1000) + 1) + "ms");
  ASSERT_EQ(generous["outcome"], "completed") << generous["reason"];
  EXPECT_EQ(generous["switchover"], "converged");
  EXPECT_TRUE(generous["converged"].get<bool>());
  EXPECT_TRUE(generous["postcopy"].is_null()) << "converged in its pre-copy round: stop-copy";
}
