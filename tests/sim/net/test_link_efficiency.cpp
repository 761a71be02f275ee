// The link's usable rate (sim/net/link.cpp): line rate × link.efficiency
// (protocol overhead), a degraded line scaled the same way, QEMU's rate
// limit (counted in bytes written) not scaled, and a sender's own pace
// (`cap`: the device's save rate, the zero-page scan) when it is slower.
#include <functional>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "net/link.h"
#include "sc_thread_runner.h"

namespace {

using namespace mdevsim::sim;
using net::Link;
using net::now;

using Runner = mdevsim::testing::ThreadRunner;

LinkSection line(double bandwidth, double efficiency) {
  LinkSection l;
  l.bandwidth = bandwidth;
  l.latency_s = 0;
  l.efficiency = efficiency;
  return l;
}

// Seconds one transfer of `bytes` takes on `l` with `faults`.
double time_of(const LinkSection& l, uint64_t bytes, bool limited,
               double cap = std::numeric_limits<double>::infinity(),
               const std::vector<Fault>& faults = {}) {
  std::vector<FaultResult> records(faults.size());
  Link link("link", l, faults, 1.0, records);
  double took = -1;
  Runner r("r", [&] {
    EXPECT_TRUE(link.transfer(bytes, limited, cap));
    took = now();
  });
  sc_core::sc_start();
  return took;
}

TEST(LinkEfficiency, TheDefaultIsTcpOverEthernetPayloadShare) {
  // 1448 payload bytes (1500 MTU − 20 IP − 20 TCP − 12 timestamps) per 1538
  // bytes on the wire (+ 14 header, 4 FCS, 8 preamble, 12 inter-frame gap).
  EXPECT_DOUBLE_EQ(LinkSection{}.efficiency, (1500.0 - 20 - 20 - 12) / (1500.0 + 14 + 4 + 8 + 12));
}

TEST(LinkEfficiency, UsableRateIsBandwidthTimesEfficiency) {
  // 1 GB at 1.25 GB/s × 0.8 = 1 GB/s: one second.
  EXPECT_NEAR(time_of(line(1.25e9, 0.8), 1'000'000'000, true), 1.0, 1e-9);
}

TEST(LinkEfficiency, OnePointZeroIsTheIdealLink) {
  EXPECT_NEAR(time_of(line(1e9, 1.0), 250'000'000, true), 0.25, 1e-9);
}

// (One simulation per test: each test runs in its own process.)
TEST(LinkEfficiency, RateLimitIsNotScaled) {
  // max-bandwidth counts what QEMU writes: 0.5 GB/s stays 0.5 GB/s when the
  // usable line (0.9 GB/s) is faster.
  auto l = line(1e9, 0.9);
  l.rate_limit = 5e8;
  EXPECT_NEAR(time_of(l, 500'000'000, true), 1.0, 1e-9);
}

TEST(LinkEfficiency, TheSwitchRunsAtTheUsableLineRate) {
  // The limit is lifted for the switch (unlimited transfer): 0.9 GB/s.
  auto l = line(1e9, 0.9);
  l.rate_limit = 5e8;
  EXPECT_NEAR(time_of(l, 900'000'000, false), 1.0, 1e-9);
}

TEST(LinkEfficiency, DegradedLineIsScaledToo) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kDegrade;
  faults[0].at_s = 0;
  faults[0].duration_s = 10;
  faults[0].bandwidth = 4e8;
  // 0.4 GB/s line × 0.5 = 0.2 GB/s: 100 MB in 0.5 s.
  EXPECT_NEAR(
      time_of(line(1e9, 0.5), 100'000'000, false, std::numeric_limits<double>::infinity(), faults),
      0.5, 1e-9);
}

TEST(LinkEfficiency, ASlowerSenderSetsThePace) {
  // Sending overlaps producing: the slower of the two (not their sum).
  EXPECT_NEAR(time_of(line(1e9, 1.0), 300'000'000, false, 3e8), 1.0, 1e-9);
}

TEST(LinkEfficiency, AFasterSenderLeavesTheLinkThePace) {
  EXPECT_NEAR(time_of(line(1e9, 0.5), 300'000'000, false, 3e9), 0.6, 1e-9);
}

}  // namespace
