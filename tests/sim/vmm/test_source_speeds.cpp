// The device's and the source's own speeds in whole runs (`mdevsim run`):
// a stop-copy-only device's downtime is its fixed stop-copy cost plus its
// state over the slower of its save rate and the usable link rate
// (bandwidth × efficiency), plus the destination's apply time; RAM's first
// pass takes at least the RAM scanned over vm.scan_bandwidth. Expectations
// are that arithmetic on the scenario's parameters and the byte counts the
// run reports.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim_run.h"

namespace {

using mdevsim::testing::run_scenario;
using mdevsim::testing::SimRun;
using mdevsim::testing::write_scenario;
using nlohmann::json;

// 256 MiB of VRAM written before the migration starts, stop-copy only (no
// PRE_COPY): every device byte moves in the downtime. No guest writes, no
// DMA, no latency, a device that stops at once and a destination that
// applies state 1000x faster than anything else, so the downtime is the
// device's save path.
std::string stop_copy_device(const std::string& device_extra, const std::string& link) {
  return R"({
    "name": "speeds", "seed": 3,
    "device": {"vram": "256MiB", "page_size": "64KiB", "protocol": "v2",
               "features": ["stop_copy", "p2p"], "stop_latency": "0s",
               "resume_bandwidth": "1TB/s")" +
         device_extra + R"(},
    "workload": {"kind": "uniform", "dirty_rate": "4GiB/s"},
    "vm": {"ram": "64MiB", "scan_bandwidth": "unlimited"},
    "link": {"bandwidth": "10Gbit/s", "latency": "0s")" +
         link + R"(},
    "migration": {"start_at": "300ms", "downtime_limit": "10s", "run_after": "10ms"}
  })";
}

struct StopCopy {
  double downtime, device_stop, transfer, device_bytes, ram_bytes;
};

StopCopy run_stop_copy(const std::string& device_extra, const std::string& link) {
  const SimRun r = run_scenario(write_scenario(stop_copy_device(device_extra, link)));
  EXPECT_EQ(r.code, 0) << r.out;
  const json& j = r.result;
  EXPECT_EQ(j.value("outcome", ""), "completed") << r.out;
  const json& sc = j.at("stop_copy");
  return {j.at("downtime_s").get<double>(), sc.at("device_stop_s").get<double>(),
          sc.at("transfer_s").get<double>(), sc.at("device_bytes").get<double>(),
          sc.at("ram_bytes").get<double>()};
}

constexpr double kLine = 10e9 / 8;  // 10 Gbit/s in bytes/s

TEST(SourceSpeeds, StopCopyDowntimeIsFixedCostPlusStateOverTheSaveRate) {
  // save 200 MB/s < usable link 1.25 GB/s × 0.5: the device sets the pace.
  const StopCopy sc = run_stop_copy(R"(, "save_bandwidth": "200MB/s", "save_fixed_cost": "500ms")",
                                    R"(, "efficiency": 0.5)");
  ASSERT_GT(sc.device_bytes, 200e6);  // most of the VRAM was written
  EXPECT_NEAR(sc.device_stop, 0.5, 1e-6);
  const double expected =
      0.5 + sc.device_bytes / 200e6 + sc.ram_bytes / (kLine * 0.5) + sc.device_bytes / 1e12;
  EXPECT_NEAR(sc.downtime, expected, expected * 0.001);
}

TEST(SourceSpeeds, StopCopyDowntimeIsStateOverTheUsableLinkWhenItIsSlower) {
  // save 2 GB/s > usable link 1.25 GB/s × 0.5 = 625 MB/s: the link sets it.
  const StopCopy sc = run_stop_copy(R"(, "save_bandwidth": "2GB/s", "save_fixed_cost": "100ms")",
                                    R"(, "efficiency": 0.5)");
  const double expected =
      0.1 + (sc.device_bytes + sc.ram_bytes) / (kLine * 0.5) + sc.device_bytes / 1e12;
  EXPECT_NEAR(sc.downtime, expected, expected * 0.001);
}

TEST(SourceSpeeds, IdealLinkAndFreeReadOutAreTheOldArithmetic) {
  // efficiency 1.0, save_bandwidth and save_fixed_cost absent: the state over
  // the line rate, as before these keys existed.
  const StopCopy sc = run_stop_copy("", R"(, "efficiency": 1.0)");
  EXPECT_NEAR(sc.device_stop, 0, 1e-6);
  const double expected = (sc.device_bytes + sc.ram_bytes) / kLine + sc.device_bytes / 1e12;
  EXPECT_NEAR(sc.downtime, expected, expected * 0.001);
}

// RAM-only pass: 2 GiB of never-written RAM is 524288 zero pages of 8 wire
// bytes each (4 MiB on the wire), but QEMU reads all 2 GiB to find that.
std::string zero_ram(const std::string& scan) {
  return R"({
    "name": "scan", "seed": 1,
    "device": {"vram": "64MiB", "page_size": "64KiB", "protocol": "v2",
               "features": ["stop_copy", "p2p"], "stop_latency": "0s"},
    "vm": {"ram": "2GiB", "scan_bandwidth": ")" +
         scan + R"("},
    "link": {"bandwidth": "100Gbit/s", "latency": "0s", "efficiency": 1.0},
    "migration": {"start_at": "0s", "downtime_limit": "1s", "run_after": "10ms"}
  })";
}

TEST(SourceSpeeds, TheZeroPageScanSetsThePassTime) {
  const SimRun r = run_scenario(write_scenario(zero_ram("1GB/s")));
  ASSERT_EQ(r.code, 0) << r.out;
  const json& it0 = r.result.at("iterations").at(0);
  const double ram = 2.0 * (1ull << 30);
  // scanned / scan rate (2.147 s), not wire bytes / link (0.3 ms).
  EXPECT_NEAR(it0.at("duration_s").get<double>(), ram / 1e9, ram / 1e9 * 0.001);
  EXPECT_EQ(it0.at("ram_bytes").get<double>(), ram / 4096 * 8);
}

TEST(SourceSpeeds, AnUnlimitedScanLeavesTheLinkThePace) {
  const SimRun r = run_scenario(write_scenario(zero_ram("unlimited")));
  ASSERT_EQ(r.code, 0) << r.out;
  const json& it0 = r.result.at("iterations").at(0);
  EXPECT_LT(it0.at("duration_s").get<double>(), 0.01);
}

}  // namespace
