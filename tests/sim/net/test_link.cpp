// The link (sim/net/link.cpp): a transfer takes bytes / bandwidth; channels
// transferring at once share the bandwidth equally; a link down waits (and
// records the time lost) or fails past the link timeout; the pre-copy
// deadline and a degraded period; a host crash ends transfers.
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "net/link.h"
#include "sc_thread_runner.h"

namespace {

using namespace mdevsim::sim;
using net::Link;
using net::now;

LinkSection link_at(double bandwidth) {
  LinkSection l;
  l.bandwidth = bandwidth;
  l.latency_s = 0;
  l.efficiency = 1.0;  // the line rate itself (overhead: test_link_efficiency.cpp)
  return l;
}

using Runner = mdevsim::testing::ThreadRunner;

TEST(Link, ATransferTakesBytesOverBandwidth) {
  std::vector<FaultResult> records;
  Link link("link", link_at(1e9), {}, 1.0, records);
  bool ok = false;
  double took = 0;
  Runner r("r", [&] {
    ok = link.transfer(250'000'000, true);
    took = now();
  });
  sc_core::sc_start();
  EXPECT_TRUE(ok);
  EXPECT_NEAR(took, 0.25, 1e-9);
  EXPECT_EQ(link.moved(), 250'000'000u);
}

TEST(Link, TwoChannelsAtOnceShareTheBandwidth) {
  std::vector<FaultResult> records;
  Link link("link", link_at(1e9), {}, 1.0, records, 2);
  double a_end = 0, b_end = 0;
  Runner a("a", [&] {
    link.channel(0).transfer(100'000'000, true);
    a_end = now();
  });
  Runner b("b", [&] {
    link.channel(1).transfer(300'000'000, true);
    b_end = now();
  });
  sc_core::sc_start();
  // Together at 0.5 GB/s each until a's 100 MB are through (0.2 s, b has
  // moved 100 MB), then b alone at 1 GB/s for its last 200 MB (0.2 s): a
  // channel starting or ending re-slices the others.
  EXPECT_NEAR(a_end, 0.2, 1e-9);
  EXPECT_NEAR(b_end, 0.4, 1e-9);
  EXPECT_EQ(link.channel_count(), 2u);
}

TEST(Link, ALinkDownWaitsAndRecordsTheTimeLost) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kLinkDown;
  faults[0].at_s = 0.1;
  faults[0].duration_s = 0.3;
  std::vector<FaultResult> records(1);
  Link link("link", link_at(1e9), faults, 1.0, records);
  bool ok = false;
  double took = 0;
  Runner r("r", [&] {
    ok = link.transfer(500'000'000, true);
    took = now();
  });
  sc_core::sc_start();
  EXPECT_TRUE(ok);
  EXPECT_NEAR(took, 0.5 + 0.3, 1e-9);
  EXPECT_NEAR(records[0].lost_s, 0.3, 1e-9);
}

TEST(Link, DownLongerThanTheTimeoutFails) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kLinkDown;
  faults[0].at_s = 0.1;
  faults[0].duration_s = 5;
  std::vector<FaultResult> records(1);
  Link link("link", link_at(1e9), faults, 1.0, records);
  bool ok = true;
  double took = 0;
  Runner r("r", [&] {
    ok = link.transfer(500'000'000, true);
    took = now();
  });
  sc_core::sc_start();
  EXPECT_FALSE(ok);
  EXPECT_FALSE(link.timed_out());
  EXPECT_NEAR(took, 0.1 + 1.0, 1e-9);
  EXPECT_EQ(link.failure(), "the link was down longer than the link timeout");
}

TEST(Link, DegradedAndRateLimitedBandwidth) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kDegrade;
  faults[0].at_s = 0;
  faults[0].duration_s = 0.1;
  faults[0].bandwidth = 1e8;
  std::vector<FaultResult> records(1);
  auto l = link_at(1e9);
  l.rate_limit = 5e8;
  Link link("link", l, faults, 1.0, records);
  double took = 0;
  Runner r("r", [&] {
    link.transfer(60'000'000, false);  // 0.1 s at 100 MB/s moves 10 MB, then 50 MB at 1 GB/s
    took = now();
  });
  sc_core::sc_start();
  EXPECT_NEAR(took, 0.1 + 0.05, 1e-9);
  EXPECT_DOUBLE_EQ(link.bandwidth(0.05, true), 1e8);
  EXPECT_DOUBLE_EQ(link.bandwidth(0.2, true), 5e8) << "pre-copy under the rate limit";
  EXPECT_DOUBLE_EQ(link.bandwidth(0.2, false), 1e9) << "the limit is lifted at switchover";
}

TEST(Link, TheDeadlineCutsAPreCopyTransfer) {
  std::vector<FaultResult> records;
  Link link("link", link_at(1e9), {}, 1.0, records);
  bool ok = true;
  Runner r("r", [&] {
    link.set_deadline(0.25);
    ok = link.transfer(1'000'000'000, true);
  });
  sc_core::sc_start();
  EXPECT_FALSE(ok);
  EXPECT_TRUE(link.timed_out());
  EXPECT_NEAR(static_cast<double>(link.moved()), 250e6, 1.0);
}

TEST(Link, AHostCrashEndsTransfers) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kDestCrash;
  faults[0].at_s = 0.05;
  std::vector<FaultResult> records(1);
  Link link("link", link_at(1e9), faults, 1.0, records);
  bool ok = true;
  Runner r("r", [&] { ok = link.transfer(1'000'000'000, false); });
  sc_core::sc_start();
  EXPECT_FALSE(ok);
  EXPECT_TRUE(link.dest_crashed());
  EXPECT_FALSE(link.timed_out());
  EXPECT_EQ(link.crash_index(), 0u);
}

}  // namespace
