// Multifd in whole runs (`mdevsim run`, sim/vmm/multifd.cpp). Expectations
// come from QEMU 10.0's multifd (migration/multifd.h: 512 KiB packets, a
// packet header of 320 bytes + 8 per page offset, a 64-byte init packet per
// channel, a sync packet per channel at setup and per pass) and from
// arithmetic: a static RAM-only pass takes its bytes over the slower of
// the usable link (bandwidth × efficiency) and the channels' caps
// (N × link.stream_cap); with the zero-page scan the bottleneck, N channels
// scan in parallel.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim_run.h"

namespace {

using mdevsim::testing::run_scenario;
using mdevsim::testing::SimRun;
using mdevsim::testing::write_scenario;
using nlohmann::json;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kRam = 256.0 * (1 << 20);
constexpr double kPages = kRam / 4096;
constexpr double kPerPacket = 128;                 // 512 KiB / 4 KiB
constexpr double kPacketWire = 320 + 8 * 128 + 8;  // header + offsets + mdevsim's checksum

std::string rate(double r) { return std::isinf(r) ? "unlimited" : std::to_string(r) + "B/s"; }

// 256 MiB of resident RAM, nothing writing it, a device with nothing to
// say, no latency: the first pass is the migration.
std::string static_ram(uint32_t channels, double cap, double bandwidth, double efficiency,
                       double scan, const std::string& migration_extra = "") {
  return R"({
    "name": "multifd", "seed": 5,
    "device": {"vram": "16MiB", "page_size": "64KiB", "protocol": "v2",
               "features": ["stop_copy", "p2p"], "stop_latency": "0s",
               "resume_bandwidth": "1TB/s"},
    "vm": {"ram": "256MiB", "resident": "100%", "scan_bandwidth": ")" +
         rate(scan) + R"("},
    "link": {"bandwidth": ")" +
         rate(bandwidth) + R"(", "latency": "0s", "efficiency": )" + std::to_string(efficiency) +
         R"(, "stream_cap": ")" + rate(cap) + R"("},
    "migration": {"start_at": "0s", "downtime_limit": "1s", "run_after": "10ms",
                  "multifd_channels": )" +
         std::to_string(channels) + migration_extra + R"(}
  })";
}

json run_ok(const std::string& text) {
  const SimRun r = run_scenario(write_scenario(text));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.result.value("outcome", ""), "completed") << r.out;
  EXPECT_TRUE(r.result["verification"].value("passed", false)) << r.out;
  return r.result;
}

struct Case {
  uint32_t channels;
  double cap;
};

TEST(Multifd, AStaticPassTakesItsBytesOverTheSlowerOfLinkAndChannels) {
  const double bw = 25e9 / 8, eff = 0.9;
  // The last two: one stream is held to 1 GB/s, four reach the line rate.
  for (const Case c : {Case{2, 1e9}, Case{8, 0.25e9}, Case{3, kInf}, Case{1, 1e9}, Case{4, 1e9}}) {
    SCOPED_TRACE("channels " + std::to_string(c.channels) + ", cap " + rate(c.cap));
    const json j = run_ok(static_ram(c.channels, c.cap, bw, eff, kInf));
    ASSERT_EQ(j["iterations"].size(), 1u);
    const json& pass = j["iterations"][0];
    // The pass: every page in packets of 128, the pass-end sync packet on
    // every channel and the flush flag on the main channel.
    const double pass_bytes =
        kPages * 4096 + kPages / kPerPacket * kPacketWire + c.channels * (320 + 8 * 128) + 8;
    EXPECT_EQ(pass["ram_bytes"].get<double>(), pass_bytes);
    const double pace = std::min(bw * eff, c.channels * c.cap);
    EXPECT_NEAR(pass["duration_s"].get<double>(), pass_bytes / pace, pass_bytes / pace * 1e-5);
    // Setup: per channel an init packet and a sync packet, one flush flag.
    const double setup = c.channels * (64.0 + 320 + 8 * 128) + 8;
    EXPECT_EQ(j["bytes"]["ram"].get<double>(), pass_bytes + setup);
  }
}

TEST(Multifd, WithoutMultifdTheCapHoldsTheSingleStream) {
  const double bw = 25e9 / 8, eff = 0.9;
  for (const double cap : {1e9, 2e9, kInf}) {
    SCOPED_TRACE("cap " + rate(cap));
    const json j = run_ok(static_ram(0, cap, bw, eff, kInf));
    const json& pass = j["iterations"][0];
    const double bytes = pass["ram_bytes"].get<double>();
    EXPECT_GT(bytes, kRam);
    const double pace = std::min(bw * eff, cap);
    EXPECT_NEAR(pass["duration_s"].get<double>(), bytes / pace, bytes / pace * 1e-5);
  }
}

TEST(Multifd, ChannelsScanInParallel) {
  // 100 Gbit/s against a 1 GB/s zero-page scan: the scan sets the pace,
  // 256 MiB / (N × 1 GB/s); one stream without multifd scans alone.
  const double scan = 1e9;
  const json off = run_ok(static_ram(0, kInf, 100e9 / 8, 1.0, scan));
  EXPECT_NEAR(off["iterations"][0]["duration_s"].get<double>(), kRam / scan, kRam / scan * 1e-4);
  for (const uint32_t n : {1u, 2u, 4u, 8u}) {
    SCOPED_TRACE("channels " + std::to_string(n));
    const json j = run_ok(static_ram(n, kInf, 100e9 / 8, 1.0, scan));
    const double expected = kRam / (n * scan);
    EXPECT_NEAR(j["iterations"][0]["duration_s"].get<double>(), expected, expected * 1e-4);
  }
}

TEST(Multifd, TheQemuLoopSendsOverTheChannelsToo) {
  // The same pass in QEMU's loop: the bytes over 2 GB/s (two 1 GB/s
  // channels); the loop's 100 ms windows add at most one window before the
  // switch is decided. Bytes: the packets, the setup's and the pass's
  // syncs, and at most one more sync (before an exact query mid-pass).
  const json j = run_ok(static_ram(2, 1e9, 25e9 / 8, 0.9, kInf, R"(, "loop": "qemu")"));
  const double bytes = j["bytes"]["total"].get<double>();
  const double t = j["total_time_s"].get<double>();
  EXPECT_GE(t, bytes / 2e9);
  EXPECT_LE(t, bytes / 2e9 + 0.1 + 1e-3);
  const double sync = 2 * (320 + 8 * 128) + 8;
  const double least = kPages * 4096 + kPages / kPerPacket * kPacketWire + 2 * 64.0 + 2 * sync;
  EXPECT_GE(j["bytes"]["ram"].get<double>(), least);
  EXPECT_LE(j["bytes"]["ram"].get<double>(), least + sync);
}

// Guest writes during the migration: pages resent over other channels
// must still arrive in order (a sync between passes and before every
// dirty sync), so the destination equals the source.
std::string dirtying(const std::string& loop, uint32_t channels, const std::string& extra = "") {
  return R"({
    "name": "multifd-dirty", "seed": 9,
    "device": {"vram": "64MiB", "page_size": "64KiB", "protocol": "v2",
               "features": ["stop_copy", "p2p", "pre_copy"]},
    "workload": {"kind": "uniform", "dirty_rate": "200MiB/s"},
    "vm": {"ram": "512MiB", "resident": "100%"},
    "guest": {"kind": "hotset", "dirty_rate": "300MiB/s", "hot_fraction": 0.05},
    "link": {"bandwidth": "10Gbit/s", "stream_cap": "400MB/s"},
    "migration": {"start_at": "50ms", "downtime_limit": "30ms", "loop": ")" +
         loop + R"(", "multifd_channels": )" + std::to_string(channels) + extra + R"(}
  })";
}

TEST(Multifd, DirtiedPagesArriveInOrderInBothLoops) {
  for (const std::string loop : {"passes", "qemu"}) {
    SCOPED_TRACE(loop);
    const json j = run_ok(dirtying(loop, 4));
    EXPECT_GT(j["iterations"].size(), 1u);
  }
}

TEST(Multifd, ADeadlineCutsChannelsAndTheirPagesAreSentInTheStopCopy) {
  // migration.timeout ends the first pass mid-way with packets on every
  // channel; forced, the stop-copy sends what did not arrive.
  const json j =
      run_ok(dirtying("passes", 3, R"(, "timeout": "200ms", "on_no_convergence": "force")"));
  EXPECT_EQ(j.value("switchover", ""), "forced");
}

TEST(Multifd, EveryOutputCanBeWrittenWhileChannelsSend) {
  // The waveform's bytes-in-flight signal has one writer, whatever the
  // number of channel threads.
  const std::string file = write_scenario(dirtying("qemu", 4));
  const std::string out = file + ".out";
  const SimRun r = run_scenario(
      file, "--vcd " + out + ".vcd --timeline " + out + ".timeline.json --report " + out + ".html");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.result.value("outcome", ""), "completed") << r.out;
  std::ifstream vcd(out + ".vcd");
  const std::string text((std::istreambuf_iterator<char>(vcd)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("$enddefinitions"), std::string::npos);
  EXPECT_GT(text.size(), 10000u) << "the waveform has values, not only its header";
}

TEST(Multifd, SameSeedSameResult) {
  const std::string file = write_scenario(dirtying("qemu", 3));
  const SimRun a = run_scenario(file), b = run_scenario(file);
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(a.result.dump(), b.result.dump());
}

}  // namespace
