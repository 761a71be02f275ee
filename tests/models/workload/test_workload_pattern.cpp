#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/workload/workload_pattern.h"

namespace mdevsim::models {
namespace {

constexpr uint32_t kPage = 64 * 1024;
constexpr uint64_t kPages = uint64_t{16} << 14;  // 16 GiB of 64 KiB pages

PatternSpec spec_of(PatternKind kind, double rate) {
  PatternSpec s;
  s.kind = kind;
  s.rate_bytes_per_s = rate;
  return s;
}

// Every constant-rate kind delivers its configured rate over one second.
TEST(PageWriteGenerator, RateOverOneSecondWithinTwoPercentForEveryKind) {
  const double rate = 2.0 * (1ull << 30);  // 2 GiB/s
  const double expected_pages = rate / kPage;
  for (auto kind : {PatternKind::kUniform, PatternKind::kHotset, PatternKind::kZipf,
                    PatternKind::kStreaming, PatternKind::kFramebuffer}) {
    PageWriteGenerator g(spec_of(kind, rate), kPages, kPage, 7);
    EXPECT_NEAR(static_cast<double>(g.writes_until(1.0)), expected_pages, 0.02 * expected_pages)
        << "kind " << static_cast<int>(kind);
    // Any sub-interval is exact to within one write.
    const uint64_t a = g.writes_until(0.25), b = g.writes_until(0.75);
    EXPECT_NEAR(static_cast<double>(b - a), expected_pages / 2, 1.0);
  }
  PatternSpec phased = spec_of(PatternKind::kPhased, 0);
  phased.phases = {spec_of(PatternKind::kUniform, rate), spec_of(PatternKind::kStreaming, rate)};
  phased.phase_durations_s = {0.3, 0.2};
  PageWriteGenerator g(phased, kPages, kPage, 7);
  EXPECT_NEAR(static_cast<double>(g.writes_until(1.0)), expected_pages, 0.02 * expected_pages);
}

TEST(PageWriteGenerator, PagesStayInsideTheRegion) {
  PatternSpec s = spec_of(PatternKind::kZipf, 1e9);
  s.region_first_page = 1000;
  s.region_pages = 5000;
  for (auto kind :
       {PatternKind::kUniform, PatternKind::kHotset, PatternKind::kZipf, PatternKind::kStreaming}) {
    s.kind = kind;
    PageWriteGenerator g(s, kPages, kPage, 3);
    for (uint64_t n = 0; n < 20000; ++n) {
      const uint64_t p = g.page_of(n);
      ASSERT_GE(p, 1000u);
      ASSERT_LT(p, 6000u);
    }
  }
}

TEST(PageWriteGenerator, HotsetPutsConfiguredShareInHotRegion) {
  PatternSpec s = spec_of(PatternKind::kHotset, 1e9);
  s.hot_fraction = 0.05;
  s.hot_probability = 0.8;
  PageWriteGenerator g(s, kPages, kPage, 11);
  const uint64_t hot_pages = static_cast<uint64_t>(std::llround(0.05 * kPages));
  uint64_t hot = 0;
  const uint64_t n = 200000;
  for (uint64_t i = 0; i < n; ++i) hot += g.page_of(i) < hot_pages;
  EXPECT_NEAR(static_cast<double>(hot) / n, 0.8, 0.02);
}

// Distinct pages touched by uniform writes follow N(1 - e^(-r t / N)).
TEST(PageWriteGenerator, UniformDistinctPagesFollowOccupancyFormula) {
  struct Case {
    uint64_t pages;
    double pages_per_s;
    double t;
  };
  for (const Case c :
       {Case{65536, 65536, 1.0}, Case{262144, 100000, 2.0}, Case{16384, 40000, 0.5}}) {
    PatternSpec s = spec_of(PatternKind::kUniform, c.pages_per_s * 4096);
    PageWriteGenerator g(s, c.pages, 4096, 5);
    std::vector<bool> seen(c.pages);
    uint64_t distinct = 0;
    const uint64_t writes = g.writes_until(c.t);
    for (uint64_t i = 0; i < writes; ++i) {
      const uint64_t p = g.page_of(i);
      if (!seen[p]) {
        seen[p] = true;
        ++distinct;
      }
    }
    const double expected = c.pages * (1 - std::exp(-c.pages_per_s * c.t / c.pages));
    EXPECT_NEAR(static_cast<double>(distinct), expected, 0.02 * expected) << c.pages;
  }
}

TEST(PageWriteGenerator, ZipfRankFrequenciesFollowPowerLaw) {
  for (double s_exp : {0.8, 1.0, 1.3}) {
    PatternSpec s = spec_of(PatternKind::kZipf, 1e9);
    s.zipf_exponent = s_exp;
    s.region_pages = 100000;
    PageWriteGenerator g(s, kPages, kPage, 13);
    std::unordered_map<uint64_t, uint64_t> freq;
    for (uint64_t i = 0; i < 400000; ++i) ++freq[g.page_of(i)];
    std::vector<uint64_t> counts;
    for (auto& [p, c] : freq) counts.push_back(c);
    std::sort(counts.rbegin(), counts.rend());
    // rank 1 vs rank 2 ≈ 2^s; rank 1 vs rank 10 ≈ 10^s
    EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], std::pow(2, s_exp),
                0.15 * std::pow(2, s_exp));
    EXPECT_NEAR(std::log(static_cast<double>(counts[0]) / counts[9]) / std::log(10.0), s_exp, 0.1);
  }
}

TEST(PageWriteGenerator, StreamingAndFramebufferAreExactSequences) {
  PatternSpec s = spec_of(PatternKind::kStreaming, 1e9);
  s.region_first_page = 10;
  s.region_pages = 4;
  PageWriteGenerator g(s, 100, 4096, 1);
  std::vector<uint64_t> got;
  for (uint64_t i = 0; i < 6; ++i) got.push_back(g.page_of(i));
  EXPECT_EQ(got, (std::vector<uint64_t>{10, 11, 12, 13, 10, 11}));

  PatternSpec fb = spec_of(PatternKind::kFramebuffer, 0);
  fb.fps = 60;
  fb.framebuffer_pages = 3;
  PageWriteGenerator f(fb, 100, 4096, 1);
  EXPECT_EQ(f.writes_until(1.0), 180u);
  EXPECT_EQ(f.page_of(0), 0u);
  EXPECT_EQ(f.page_of(4), 1u);
}

TEST(PageWriteGenerator, PhasedWritesFollowEachPhasesRate) {
  PatternSpec p = spec_of(PatternKind::kPhased, 0);
  PatternSpec fast = spec_of(PatternKind::kStreaming, 1000.0 * 4096);
  fast.region_pages = 10;
  PatternSpec slow = spec_of(PatternKind::kStreaming, 100.0 * 4096);
  slow.region_first_page = 50;
  slow.region_pages = 10;
  p.phases = {fast, slow};
  p.phase_durations_s = {0.5, 0.5};
  PageWriteGenerator g(p, 100, 4096, 1);
  EXPECT_EQ(g.writes_until(0.5), 500u);
  EXPECT_EQ(g.writes_until(1.0), 550u);
  EXPECT_EQ(g.writes_until(1.5), 1050u);  // second cycle
  EXPECT_LT(g.page_of(499), 10u);
  EXPECT_GE(g.page_of(500), 50u);
  EXPECT_LT(g.page_of(550), 10u);  // first phase again
}

TEST(PageWriteGenerator, TraceReplaysExactlyAndRejectsBadFiles) {
  const std::string path = ::testing::TempDir() + "/trace." + std::to_string(getpid()) + ".txt";
  std::ofstream(path) << "# time page count\n0.0 5\n0.1 7 3\n\n0.5 1 # comment\n";
  PatternSpec s = spec_of(PatternKind::kTrace, 0);
  s.trace_file = path;
  PageWriteGenerator g(s, 100, 4096, 1);
  EXPECT_EQ(g.writes_until(0.05), 1u);
  EXPECT_EQ(g.writes_until(0.2), 4u);
  EXPECT_EQ(g.writes_until(1.0), 5u);
  std::vector<uint64_t> pages;
  for (uint64_t i = 0; i < 5; ++i) pages.push_back(g.page_of(i));
  EXPECT_EQ(pages, (std::vector<uint64_t>{5, 7, 8, 9, 1}));

  std::ofstream(path) << "0.0 5\n0.1 x\n";
  EXPECT_THROW(
      {
        try {
          load_trace_file(path);
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
  std::ofstream(path) << "0.5 5\n0.1 6\n";
  EXPECT_THROW(load_trace_file(path), std::runtime_error);
  std::ofstream(path) << "0.5 500\n";
  s.trace.clear();
  EXPECT_THROW(PageWriteGenerator(s, 100, 4096, 1), std::invalid_argument);
}

// Found writing the trace fuzzer's invariant (every accepted write inside the
// memory): PAGE + COUNT wrapped around 2^64, so a count of 2^64-1 from page 1
// passed the bounds check and later writes named pages far beyond the memory.
TEST(PageWriteGenerator, ATraceCountThatWrapsAroundIsRefused) {
  std::istringstream in("0 1 0xffffffffffffffff\n");
  PatternSpec s = spec_of(PatternKind::kTrace, 0);
  s.trace = parse_trace(in, "wrap.trace");
  ASSERT_EQ(s.trace.size(), 1u);
  EXPECT_THROW(PageWriteGenerator(s, 100, 4096, 1), std::invalid_argument);
  std::istringstream fits("0 98 2\n");
  s.trace = parse_trace(fits, "fits.trace");
  PageWriteGenerator g(s, 100, 4096, 1);
  EXPECT_EQ(g.page_of(1), 99u);
}

TEST(PageWriteGenerator, SameSeedSameSequenceDifferentSeedDiffers) {
  PatternSpec s = spec_of(PatternKind::kZipf, 1e9);
  PageWriteGenerator a(s, kPages, kPage, 42), b(s, kPages, kPage, 42), c(s, kPages, kPage, 43);
  uint64_t differ = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_EQ(a.page_of(i), b.page_of(i));
    differ += a.page_of(i) != c.page_of(i);
  }
  EXPECT_GT(differ, 500u);
}

TEST(PageWriteGenerator, BadSpecsNameTheField) {
  auto message = [](const PatternSpec& s) {
    try {
      PageWriteGenerator g(s, 1000, 4096, 1);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  PatternSpec s = spec_of(PatternKind::kHotset, 1e6);
  s.hot_fraction = 1.5;
  EXPECT_NE(message(s).find("hot_fraction"), std::string::npos);
  s.hot_fraction = 0.1;
  s.hot_probability = -0.1;
  EXPECT_NE(message(s).find("hot_probability"), std::string::npos);
  PatternSpec z = spec_of(PatternKind::kZipf, 1e6);
  z.zipf_exponent = 0;
  EXPECT_NE(message(z).find("exponent"), std::string::npos);
  PatternSpec r = spec_of(PatternKind::kUniform, 1e6);
  r.region_first_page = 2000;
  EXPECT_NE(message(r).find("region"), std::string::npos);
  PatternSpec ph = spec_of(PatternKind::kPhased, 0);
  EXPECT_NE(message(ph).find("phases"), std::string::npos);
  PatternSpec neg = spec_of(PatternKind::kUniform, -5);
  EXPECT_NE(message(neg).find("dirty_rate"), std::string::npos);
}

// ---- reads and patterns running at once

TEST(PageStreams, TheFirstPatternsWritesAreTheSingleGeneratorsAndReadsFollowTheirPattern) {
  PatternSpec weights = spec_of(PatternKind::kUniform, 0);
  weights.read_rate_bytes_per_s = 8.0 * (1ull << 30);
  weights.region_first_page = 1000;
  weights.region_pages = 5000;
  PatternSpec kv = spec_of(PatternKind::kStreaming, 1.0 * (1ull << 30));
  kv.region_first_page = 10000;
  kv.region_pages = 64;
  PatternSpec hot = spec_of(PatternKind::kHotset, 2.0 * (1ull << 30));
  const auto streams = make_page_streams({hot, weights, kv}, kPages, kPage, 7);
  ASSERT_EQ(streams.size(), 4u) << "three write streams, one read stream";
  const PageWriteGenerator alone(hot, kPages, kPage, 7);
  for (uint64_t n = 0; n < 1000; ++n) ASSERT_EQ(streams[0].gen.page_of(n), alone.page_of(n));
  EXPECT_FALSE(streams[0].reads);
  EXPECT_EQ(streams[1].gen.writes_until(1.0), 0u) << "the weights are never written";
  EXPECT_EQ(streams[2].gen.page_of(70), 10000u + 70 % 64);
  ASSERT_TRUE(streams[3].reads);
  EXPECT_EQ(streams[3].pattern, 1u);
  const double reads = static_cast<double>(streams[3].gen.writes_until(1.0));
  EXPECT_NEAR(reads, 8.0 * (1ull << 30) / kPage, 1.0);
  for (uint64_t n = 0; n < 10000; ++n) {
    const uint64_t p = streams[3].gen.page_of(n);
    ASSERT_GE(p, 1000u);
    ASSERT_LT(p, 6000u);
  }
}

TEST(PageStreams, ReadsDrawTheirOwnPagesAndAFramebufferIsReadWhole) {
  PatternSpec u = spec_of(PatternKind::kUniform, 1.0 * (1ull << 30));
  u.read_rate_bytes_per_s = 1.0 * (1ull << 30);
  const auto streams = make_page_streams({u}, kPages, kPage, 3);
  ASSERT_EQ(streams.size(), 2u);
  uint64_t same = 0;
  for (uint64_t n = 0; n < 1000; ++n)
    same += streams[0].gen.page_of(n) == streams[1].gen.page_of(n);
  EXPECT_LT(same, 5u) << "reads are not the writes replayed";
  // A 60 fps framebuffer of 128 pages, scanned out at 240 frames' worth a second.
  PatternSpec fb = spec_of(PatternKind::kFramebuffer, 0);
  fb.fps = 60;
  fb.framebuffer_pages = 128;
  fb.read_rate_bytes_per_s = 240.0 * 128 * kPage;
  const PatternSpec r = reads_of(fb, kPage);
  const PageWriteGenerator g(r, kPages, kPage, 1);
  EXPECT_NEAR(g.pages_per_second(), 240.0 * 128, 1e-6);
  EXPECT_EQ(g.page_of(128 + 5), 5u) << "frame after frame over the same 128 pages";
  const PageWriteGenerator writes(fb, kPages, kPage, 1);
  EXPECT_NEAR(writes.pages_per_second(), 60.0 * 128, 1e-6) << "writes keep their own rate";
  fb.read_rate_bytes_per_s = 0;
  EXPECT_EQ(make_page_streams({fb}, kPages, kPage, 1).size(), 1u) << "no reads, no read stream";
}

TEST(PageStreams, PhasesReadAtTheirOwnRatesAndATraceHasNoReads) {
  PatternSpec ph;
  ph.kind = PatternKind::kPhased;
  PatternSpec a = spec_of(PatternKind::kUniform, 0);
  a.read_rate_bytes_per_s = 100.0 * kPage;
  PatternSpec b = spec_of(PatternKind::kUniform, 50.0 * kPage);
  ph.phases = {a, b};
  ph.phase_durations_s = {1.0, 1.0};
  const auto streams = make_page_streams({ph}, kPages, kPage, 1);
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].gen.writes_until(2.0), 50u);
  EXPECT_EQ(streams[1].gen.writes_until(2.0), 100u);
  EXPECT_EQ(streams[1].gen.writes_until(1.0), 100u) << "the reads happen in the first phase";
  PatternSpec t;
  t.kind = PatternKind::kTrace;
  t.trace = {{0.0, 1, 1}};
  t.read_rate_bytes_per_s = 1;
  EXPECT_THROW(PageWriteGenerator(t, kPages, kPage, 1), std::invalid_argument);
  PatternSpec neg = spec_of(PatternKind::kUniform, 1);
  neg.read_rate_bytes_per_s = -1;
  EXPECT_THROW(PageWriteGenerator(neg, kPages, kPage, 1), std::invalid_argument);
}

}  // namespace
}  // namespace mdevsim::models
