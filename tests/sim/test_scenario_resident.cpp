// Scenario keys for resident memory, reads and concurrent workloads
// (device.resident, vm.resident, region by name, read_rate, pattern lists).
#include <sys/resource.h>

#include <cmath>

#include <gtest/gtest.h>

#include "mdevsim/sim/migration.h"
#include "mdevsim/sim/scenario.h"
#include "sim_run.h"

namespace mdevsim::sim {
namespace {

using mdevsim::testing::test_scenario_path;
using mdevsim::testing::write_named_scenario;

Scenario load(const std::string& text, std::vector<std::string> overrides = {}) {
  return load_scenario(write_named_scenario("resident", text), overrides);
}

// Loads `text` and returns the error ("" if it loaded); `path` gets its JSON path.
std::string load_error(const std::string& text, std::string* path = nullptr,
                       std::vector<std::string> overrides = {}) {
  try {
    load(text, overrides);
  } catch (const InputError& e) {
    if (path) *path = e.json_path();
    return e.what();
  }
  return "";
}

constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(ScenarioResident, AbsentResidentMeansEmpty) {
  const Scenario s = load(R"({"device": {"vram": "4GiB"}, "vm": {"ram": "2GiB"}})");
  EXPECT_TRUE(s.device.config.resident.empty());
  EXPECT_TRUE(s.vm.resident.empty());
  EXPECT_TRUE(s.workload.concurrent.empty());
  EXPECT_TRUE(s.guest_concurrent.empty());
  EXPECT_EQ(s.workload.vram.read_rate_bytes_per_s, 0);
}

TEST(ScenarioResident, ASizeIsResidentFromOffsetZeroAndAPercentageOfTheMemory) {
  const Scenario s = load(R"({"seed": 4,
    "device": {"vram": "16GiB", "page_size": "64KiB", "resident": "14GiB"},
    "vm": {"ram": "8GiB", "resident": "100%"}})");
  ASSERT_EQ(s.device.config.resident.size(), 1u);
  EXPECT_EQ(s.device.config.resident[0].first_page, 0u);
  EXPECT_EQ(s.device.config.resident[0].pages, 14 * kGiB / (64 * 1024));
  EXPECT_EQ(s.device.config.content_seed, 4u) << "resident content derives from the seed";
  ASSERT_EQ(s.vm.resident.size(), 1u);
  EXPECT_EQ(s.vm.resident[0].pages, 8 * kGiB / 4096);
  // 12.5% of 8 GiB in 4 KiB pages: 262144 pages, rounded down to whole pages.
  const Scenario q = load(R"({"vm": {"ram": "8GiB", "resident": "12.5%"}})");
  EXPECT_EQ(q.vm.resident.at(0).pages, 262144u);
  const Scenario z = load(R"({"vm": {"ram": "8GiB", "resident": "0%"}})");
  EXPECT_TRUE(z.vm.resident.empty());
  const Scenario zero = load(R"({"vm": {"ram": "8GiB", "resident": 0}})");
  EXPECT_TRUE(zero.vm.resident.empty());
  const Scenario set = load(R"({"vm": {"ram": "8GiB"}})", {"vm.resident=50%"});
  EXPECT_EQ(set.vm.resident.at(0).pages, 4 * kGiB / 4096);
}

TEST(ScenarioResident, NamedRegionsFollowOneAnotherAndPatternsTargetThemByName) {
  const Scenario s = load(R"({
    "device": {"vram": "16GiB", "page_size": "64KiB", "resident": [
      {"name": "weights", "size": "14GiB"},
      {"name": "kv_cache", "size": "1GiB"},
      {"name": "framebuffer", "offset": "15GiB", "size": "64MiB"}]},
    "workload": [
      {"kind": "uniform", "region": "weights", "read_rate": "100GiB/s"},
      {"kind": "streaming", "region": "kv_cache", "dirty_rate": "500MiB/s", "dma_rate": "8MiB/s"},
      {"kind": "framebuffer", "region": "framebuffer", "fps": 60, "frame_size": "8MiB",
       "read_rate": "480MiB/s"},
      {"kind": "hotset", "region": {"offset": "15GiB", "size": "512MiB"}, "dirty_rate": "1GiB/s"}
    ]})");
  const auto& r = s.device.config.resident;
  ASSERT_EQ(r.size(), 3u);
  const uint64_t page = 64 * 1024;
  EXPECT_EQ(r[0].name, "weights");
  EXPECT_EQ(r[1].first_page, 14 * kGiB / page) << "offset defaults to the previous region's end";
  EXPECT_EQ(r[1].pages, kGiB / page);
  EXPECT_EQ(r[2].first_page, 15 * kGiB / page);
  EXPECT_EQ(s.workload.vram.region_first_page, 0u);
  EXPECT_EQ(s.workload.vram.region_pages, 14 * kGiB / page);
  EXPECT_EQ(s.workload.vram.read_rate_bytes_per_s, 100.0 * kGiB);
  EXPECT_EQ(s.workload.vram.rate_bytes_per_s, 0);
  ASSERT_EQ(s.workload.concurrent.size(), 3u);
  EXPECT_EQ(s.workload.concurrent[0].kind, models::PatternKind::kStreaming);
  EXPECT_EQ(s.workload.concurrent[0].region_first_page, 14 * kGiB / page);
  EXPECT_EQ(s.workload.dma_rate_bytes_per_s, 8.0 * (1 << 20)) << "from whichever pattern has it";
  EXPECT_EQ(s.workload.concurrent[1].region_pages, (64u << 20) / page);
  EXPECT_EQ(s.workload.concurrent[2].region_first_page, 15 * kGiB / page);
  EXPECT_EQ(s.workload.patterns().size(), 4u);
}

TEST(ScenarioResident, AGuestListRunsAtOnceAndASingleObjectKeepsWorking) {
  const Scenario s = load(R"({
    "vm": {"ram": "4GiB", "resident": [{"name": "heap", "offset": "1GiB", "size": "2GiB"}]},
    "guest": [{"kind": "uniform", "region": "heap", "dirty_rate": "100MiB/s",
               "read_rate": "1GiB/s"},
              {"kind": "hotset", "dirty_rate": "50MiB/s", "hot_fraction": 0.01}]})");
  EXPECT_EQ(s.guest.region_first_page, kGiB / 4096);
  EXPECT_EQ(s.guest.region_pages, 2 * kGiB / 4096);
  EXPECT_EQ(s.guest.read_rate_bytes_per_s, 1.0 * kGiB);
  ASSERT_EQ(s.guest_concurrent.size(), 1u);
  EXPECT_EQ(s.guest_concurrent[0].kind, models::PatternKind::kHotset);
  EXPECT_EQ(s.guest_patterns().size(), 2u);
  const Scenario one = load(R"({"guest": {"kind": "zipf", "dirty_rate": "10MiB/s"}})");
  EXPECT_EQ(one.guest.kind, models::PatternKind::kZipf);
  EXPECT_TRUE(one.guest_concurrent.empty());
  const Scenario phased = load(R"({"workload": {"kind": "phased", "phases": [
      {"kind": "uniform", "duration": "1s", "read_rate": "1GiB/s"},
      {"kind": "hotset", "duration": "1s", "dirty_rate": "1GiB/s"}]}})");
  EXPECT_EQ(phased.workload.vram.phases.at(0).read_rate_bytes_per_s, 1.0 * kGiB);
}

struct BadCase {
  const char* text;
  const char* path;    // the JSON path the error names
  const char* reason;  // part of the message
};

class ScenarioResidentErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ScenarioResidentErrors, NameTheFileThePathAndTheReason) {
  const BadCase& c = GetParam();
  std::string path;
  const std::string err = load_error(c.text, &path);
  ASSERT_FALSE(err.empty()) << c.text;
  EXPECT_EQ(path, c.path) << err;
  EXPECT_NE(err.find(c.reason), std::string::npos) << err;
  // The file of this parameterised test (its name has a '/', the file's not).
  EXPECT_EQ(err.find(test_scenario_path("resident")), 0u) << "starts with the file: " << err;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, ScenarioResidentErrors,
    ::testing::Values(
        BadCase{R"({"vm": {"ram": "1GiB", "resident": "2GiB"}})", "/vm/resident",
                "larger than the memory"},
        BadCase{R"({"vm": {"ram": "1GiB", "resident": "101%"}})", "/vm/resident", "from 0 to 100"},
        BadCase{R"({"vm": {"ram": "1GiB", "resident": "lots%"}})", "/vm/resident", "from 0 to 100"},
        BadCase{R"({"vm": {"ram": "1GiB", "resident": "1000"}})", "/vm/resident",
                "a unit is required"},
        BadCase{R"({"vm": {"ram": "1GiB", "resident": "4000B"}})", "/vm/resident",
                "multiple of the page size"},
        BadCase{R"({"vm": {"ram": "1GiB", "resident": true}})", "/vm/resident",
                "a size (\"14GiB\"), a percentage"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"size": "1MiB"}]}})",
                "/device/resident/0/name", "needs a name"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "w"}]}})",
                "/device/resident/0/size", "needs a size"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "w", "size": "1MiB",
                 "colour": 1}]}})",
                "/device/resident/0/colour", "unknown key"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "a", "size": "512MiB"},
                 {"name": "b", "offset": "256MiB", "size": "64MiB"}]}})",
                "/device/resident/1", "overlaps region 'a'"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "a", "size": "512MiB"},
                 {"name": "a", "size": "64MiB"}]}})",
                "/device/resident/1/name", "names two regions"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "a", "offset": "768MiB",
                 "size": "512MiB"}]}})",
                "/device/resident/0", "ends beyond the memory"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "a", "size": "100KiB"}]}})",
                "/device/resident/0/size", "multiple of the page size"},
        BadCase{R"({"device": {"vram": "1GiB", "resident": [{"name": "w", "size": "1GiB"}]},
                 "workload": {"kind": "uniform", "region": "weights", "read_rate": "1GiB/s"}})",
                "/workload/region", "its regions: w"},
        BadCase{R"({"workload": {"kind": "uniform", "region": "weights"}})", "/workload/region",
                "names no regions"},
        BadCase{R"({"vm": {"resident": [{"name": "heap", "size": "64MiB"}]},
                 "guest": [{"kind": "uniform"}, {"kind": "uniform", "region": "hep"}]})",
                "/guest/1/region", "in /vm/resident (its regions: heap)"},
        BadCase{R"({"workload": {"kind": "uniform", "read_rate": "fast"}})", "/workload/read_rate",
                ""},
        BadCase{R"({"workload": {"kind": "trace", "trace_file": "x", "read_rate": "1GiB/s"}})",
                "/workload/read_rate", "does not apply to a trace pattern"},
        BadCase{R"({"workload": []})", "/workload", "non-empty list"},
        BadCase{R"({"guest": [{"kind": "uniform"}, 3]})", "/guest/1", "must be an object"},
        BadCase{R"({"workload": [{"kind": "uniform", "dma_rate": "1MiB/s"},
                 {"kind": "uniform", "dma_rate": "2MiB/s"}]})",
                "/workload/1/dma_rate", "in one pattern only"},
        BadCase{R"({"workload": [{"kind": "uniform"}, {"kind": "zipf", "exponent": 0}]})",
                "/workload/1/exponent", "between"},
        BadCase{R"({"guest": [{"kind": "uniform", "dma_rate": "1MiB/s"}]})", "/guest/0/dma_rate",
                "unknown key"},
        BadCase{R"({"workload": [{"kind": "uniform", "dma_read_rate": "1MiB/s"},
                 {"kind": "uniform", "submit_interval": "1ms"}]})",
                "/workload/1/submit_interval", "already in /workload/0"},
        BadCase{R"({"workload": {"kind": "uniform", "dma_read_rate": "-1MiB/s"}})",
                "/workload/dma_read_rate", ""}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::to_string(info.index); });

// ---- what a resident memory costs a migration (one SystemC run per test)

// 16 GiB of RAM in use, 200 MiB/s uniform dirtying, 25 Gbit/s, a tiny device:
// SimGrid's live-migration example. The first pass must send every resident
// page (16 GiB), not zero-page headers.
const char* kRamOnly = R"({"seed": 3,
  "device": {"vram": "64MiB", "page_size": "64KiB"},
  "vm": {"ram": "16GiB", "page_size": "4KiB", "resident": "100%"},
  "guest": {"kind": "uniform", "dirty_rate": "200MiB/s"},
  "link": {"bandwidth": "25Gbit/s"},
  "migration": {"downtime_limit": "30ms"}})";

TEST(ScenarioResident, SixteenGiBResidentRamIsSentWholeInTheFirstPass) {
  const Scenario s = load(kRamOnly);
  const Result r = run_migration(s, {});
  ASSERT_EQ(r.outcome, "completed") << r.reason;
  EXPECT_TRUE(r.verification.passed) << describe_verification_failure(r.verification);
  ASSERT_GE(r.iterations.size(), 2u);
  // The usable rate: line rate x link.efficiency's default (1448/1538).
  const double ram = 16.0 * kGiB, bw = 25e9 / 8 * 1448 / 1538, pages = ram / 4096;
  const auto& first = r.iterations[0];
  // Every page goes whole, with its header: at least the RAM, at most 1% more.
  EXPECT_GE(static_cast<double>(first.ram_bytes), ram);
  EXPECT_LE(static_cast<double>(first.ram_bytes), ram * 1.01);
  EXPECT_EQ(first.ram_dirty_pages, static_cast<uint64_t>(pages)) << "all of it is to send";
  // ... at the link's usable rate (within 2%).
  EXPECT_NEAR(first.duration_s, static_cast<double>(first.ram_bytes) / bw, 0.02 * first.duration_s);
  // The second pass: distinct pages a uniform writer touched meanwhile,
  // N (1 - exp(-w T / N)) for w page writes per second over T seconds.
  const double w = 200.0 * (1 << 20) / 4096;
  const double expected = pages * (1 - std::exp(-w * first.duration_s / pages));
  EXPECT_NEAR(static_cast<double>(r.iterations[1].ram_dirty_pages), expected, 0.03 * expected);
  EXPECT_GE(r.total_time_s, ram / bw);
  EXPECT_GE(r.ram_bytes, static_cast<uint64_t>(ram));
  // Source, destination and the pages in flight: bits and tokens, never bytes.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  EXPECT_LT(static_cast<double>(ru.ru_maxrss) * 1024, 0.5 * kGiB) << "peak RSS";
}

TEST(ScenarioResident, WithoutResidentTheSameRamCostsZeroPageHeadersOnly) {
  const Scenario s = load(kRamOnly, {"vm.resident=0"});
  const Result r = run_migration(s, {});
  ASSERT_EQ(r.outcome, "completed") << r.reason;
  ASSERT_FALSE(r.iterations.empty());
  // 4 Mi zero pages as headers, no page content: well under 1% of the RAM.
  EXPECT_LT(static_cast<double>(r.iterations[0].ram_bytes), 0.01 * 16.0 * kGiB);
}

TEST(ScenarioResident, ResidentVramIsSentInTheDevicesFirstPassAndVerifies) {
  const Scenario s = load(R"({
    "device": {"vram": "1GiB", "page_size": "64KiB",
               "resident": [{"name": "weights", "size": "768MiB"}]},
    "workload": {"kind": "uniform", "region": "weights", "read_rate": "10GiB/s"},
    "vm": {"ram": "256MiB"},
    "link": {"bandwidth": "25Gbit/s"},
    "migration": {}})");
  const Result r = run_migration(s, {});
  ASSERT_EQ(r.outcome, "completed") << r.reason;
  EXPECT_TRUE(r.verification.passed) << describe_verification_failure(r.verification);
  ASSERT_FALSE(r.iterations.empty());
  const double weights = 768.0 * (1 << 20);
  EXPECT_GE(static_cast<double>(r.iterations[0].device_bytes), weights);
  EXPECT_LE(static_cast<double>(r.iterations[0].device_bytes), weights * 1.01);
  // Reads never dirty: nothing of the weights is sent twice.
  EXPECT_LE(static_cast<double>(r.device_bytes), weights * 1.01);
}

// Option P2: RAM post-copied, the device stop-copied and running at the
// destination, its DMA reading guest RAM that is still at the source. Every
// RAM fault comes from the device: the vCPUs write nothing.
TEST(ScenarioResident, PostCopyDmaReadsOfMissingGuestRamFaultAndStallTheDevice) {
  const Scenario s = load(R"({
    "device": {"vram": "256MiB", "page_size": "64KiB", "protocol": "v2-postcopy-ram-only",
               "dma_buffer": "16MiB"},
    "workload": {"kind": "uniform", "dirty_rate": "256MiB/s", "dma_read_rate": "512MiB/s"},
    "vm": {"ram": "1GiB", "resident": "100%"},
    "link": {"bandwidth": "10Gbit/s"},
    "migration": {"mode": "postcopy", "start_at": "50ms"}})");
  const Result r = run_migration(s, {});
  ASSERT_EQ(r.outcome, "completed") << r.reason;
  EXPECT_TRUE(r.verification.passed) << describe_verification_failure(r.verification);
  ASSERT_TRUE(r.postcopy.has_value());
  const auto& pc = *r.postcopy;
  EXPECT_EQ(pc["device_faults"], 0) << "the device was stop-copied whole";
  EXPECT_EQ(pc["vcpu_writes"], 0);
  EXPECT_GT(pc["ram_faults"].get<uint64_t>(), 0u) << "the DMA engine's reads faulted";
  EXPECT_GT(pc["stall_total_s"].get<double>(), 0);
  // The device waited for them (it catches up later: its engines outrun the workload).
  EXPECT_GT(pc["device_slowdown_peak"].get<double>(), 0.5);
}

}  // namespace
}  // namespace mdevsim::sim
