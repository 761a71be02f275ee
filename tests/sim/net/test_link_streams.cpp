// Streams over the link (sim/net/link.cpp): link.stream_cap bounds every
// channel, the single migration stream included; channels transferring at
// once share the bandwidth max-min fairly, so a channel held below its
// equal share by its own pace leaves the rest to the others.
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

LinkSection line(double bandwidth, double stream_cap) {
  LinkSection l;
  l.bandwidth = bandwidth;
  l.latency_s = 0;
  l.efficiency = 1.0;
  l.stream_cap = stream_cap;
  return l;
}

TEST(LinkStreams, TheCapBoundsTheSingleStream) {
  std::vector<FaultResult> records;
  Link link("link", line(1e9, 0.4e9), {}, 1.0, records);
  double took = 0;
  Runner r("r", [&] {
    EXPECT_TRUE(link.transfer(200'000'000, true));
    took = now();
  });
  sc_core::sc_start();
  EXPECT_NEAR(took, 200e6 / 0.4e9, 1e-9);  // not 0.2 s: one stream reaches 0.4 GB/s
}

TEST(LinkStreams, CappedChannelsTogetherStayBelowTheLine) {
  // Three channels at 0.25 GB/s each on a 1 GB/s link: 0.75 GB/s in all.
  std::vector<FaultResult> records;
  Link link("link", line(1e9, 0.25e9), {}, 1.0, records, 3);
  std::vector<double> end(3);
  Runner a("a", [&] {
    link.channel(0).transfer(100'000'000, true);
    end[0] = now();
  });
  Runner b("b", [&] {
    link.channel(1).transfer(100'000'000, true);
    end[1] = now();
  });
  Runner c("c", [&] {
    link.channel(2).transfer(100'000'000, true);
    end[2] = now();
  });
  sc_core::sc_start();
  for (double e : end) EXPECT_NEAR(e, 0.4, 1e-9);
}

TEST(LinkStreams, EnoughChannelsReachTheLineRate) {
  // A cap of 0.4 GB/s above the equal share (1 GB/s / 4): the link limits.
  std::vector<FaultResult> records;
  Link link("link", line(1e9, 0.4e9), {}, 1.0, records, 4);
  std::vector<double> end(4);
  Runner a("a", [&] {
    link.channel(0).transfer(50'000'000, true);
    end[0] = now();
  });
  Runner b("b", [&] {
    link.channel(1).transfer(50'000'000, true);
    end[1] = now();
  });
  Runner c("c", [&] {
    link.channel(2).transfer(50'000'000, true);
    end[2] = now();
  });
  Runner d("d", [&] {
    link.channel(3).transfer(50'000'000, true);
    end[3] = now();
  });
  sc_core::sc_start();
  for (double e : end) EXPECT_NEAR(e, 200e6 / 1e9, 1e-9);
}

TEST(LinkStreams, ASlowSenderLeavesItsShareToTheOthers) {
  // Channel 0's sender goes at 0.1 GB/s (its own cap): the other two split
  // the remaining 0.9 GB/s, 0.45 each, until channel 0 is done at 0.5 s
  // (50 MB); then 0.5 each for their last 225 MB: 0.95 s.
  std::vector<FaultResult> records;
  Link link("link", line(1e9, std::numeric_limits<double>::infinity()), {}, 1.0, records, 3);
  std::vector<double> end(3);
  Runner a("a", [&] {
    link.channel(0).transfer(50'000'000, true, 0.1e9);
    end[0] = now();
  });
  Runner b("b", [&] {
    link.channel(1).transfer(450'000'000, true);
    end[1] = now();
  });
  Runner c("c", [&] {
    link.channel(2).transfer(450'000'000, true);
    end[2] = now();
  });
  sc_core::sc_start();
  EXPECT_NEAR(end[0], 0.5, 1e-9);
  EXPECT_NEAR(end[1], 0.95, 1e-9);
  EXPECT_NEAR(end[2], 0.95, 1e-9);
}

TEST(LinkStreams, AddedChannelsShareWithTheFirst) {
  // add_channel (multifd's channels): an equal share with the main one.
  std::vector<FaultResult> records;
  Link link("link", line(1e9, std::numeric_limits<double>::infinity()), {}, 1.0, records);
  const size_t extra = link.add_channel();
  EXPECT_EQ(extra, 1u);
  EXPECT_EQ(link.channel_count(), 2u);
  double a_end = 0, b_end = 0;
  Runner a("a", [&] {
    link.channel(0).transfer(100'000'000, true);
    a_end = now();
  });
  Runner b("b", [&] {
    link.channel(extra).transfer(100'000'000, true);
    b_end = now();
  });
  sc_core::sc_start();
  EXPECT_NEAR(a_end, 0.2, 1e-9);
  EXPECT_NEAR(b_end, 0.2, 1e-9);
}

TEST(LinkStreams, ALinkDownIsLostOnceHoweverManyChannelsWait) {
  std::vector<Fault> faults(1);
  faults[0].kind = FaultKind::kLinkDown;
  faults[0].at_s = 0.1;
  faults[0].duration_s = 0.3;
  std::vector<FaultResult> records(1);
  Link link("link", line(1e9, std::numeric_limits<double>::infinity()), faults, 1.0, records, 3);
  std::vector<double> end(3);
  Runner a("a", [&] {
    link.channel(0).transfer(200'000'000, true);
    end[0] = now();
  });
  Runner b("b", [&] {
    link.channel(1).transfer(200'000'000, true);
    end[1] = now();
  });
  Runner c("c", [&] {
    link.channel(2).transfer(200'000'000, true);
    end[2] = now();
  });
  sc_core::sc_start();
  EXPECT_NEAR(records[0].lost_s, 0.3, 1e-9);             // not 0.9
  for (double e : end) EXPECT_NEAR(e, 0.6 + 0.3, 1e-9);  // 600 MB at 1 GB/s, plus the outage
}

}  // namespace
