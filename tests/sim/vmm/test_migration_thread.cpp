// QEMU's migration thread (sim/vmm/migration_thread.cpp) through the
// driver, with fake RAM, vCPUs and a fake device that holds `precopy` bytes
// of pre-copy data (read 1 MiB at a time) and reports a fixed stop-copy
// size. Expectations are QEMU's arithmetic worked out by hand: 100 ms
// windows (BUFFER_DELAY), a budget of rate_limit / 10 per window spent at
// line rate, threshold = bytes of the last window / 0.1 s × downtime_limit,
// and the switch at the first loop pass where the pending bytes are below it.
#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "vmm/migration_driver.h"
#include "vmm/migration_thread.h"
#include "vmm_fakes.h"

namespace {

using namespace mdevsim::sim;
using namespace mdevsim::sim::vmm;
using namespace mdevsim::sim::vmm::fakes;

// Pre-copy data read in chunks of at most the loop's read size; a fixed
// stop-copy size.
struct DeviceScript {
  uint64_t precopy = 0, initial = 0, stop_copy = 0;
  uint64_t sent = 0;
  double first_chunk_s = -1;
  int exact_calls = 0;
};

class ChunkDevice : public QuietVfioClient {
 public:
  ChunkDevice(MigrationContext& ctx, DeviceScript& s)
      : QuietVfioClient(ctx, mdevsim::vfio::builtin_protocol_v2()), s_(s) {}
  bool setup() override { return true; }
  void pending_estimate(IterationResult&) override {}
  bool iterate(IterationResult&) override { return false; }  // the passes loop: not used here
  uint64_t pending_exact() override { return ++s_.exact_calls, s_.stop_copy; }
  uint64_t precopy_bytes() override { return s_.precopy - s_.sent; }
  uint64_t initial_bytes() override { return s_.initial - std::min(s_.initial, s_.sent); }
  bool iterate_chunk(IterationResult& it, uint64_t max) override {
    const uint64_t n = std::min(max, s_.precopy - s_.sent);
    if (s_.first_chunk_s < 0) s_.first_chunk_s = sc_core::sc_time_stamp().to_seconds();
    if (!ctx_.link.transfer(n, false)) return false;
    s_.sent += n;
    it.device_bytes += n;
    return true;
  }
  bool complete(StopCopyResult& sc) override {
    if (!ctx_.link.transfer(s_.stop_copy, false)) return false;
    sc.device_bytes += s_.stop_copy;
    return true;
  }

 private:
  DeviceScript& s_;
};

constexpr uint64_t kPage = 4096, kMiB = 1 << 20;
constexpr double kLine = 1e9;  // bytes/s

Scenario scenario(uint64_t pages) { return qemu_loop_scenario(kLine, kPage, pages); }

struct LoopRun {
  explicit LoopRun(uint64_t pages) : src_ram(pages), dst_ram(pages) {}
  Result result;
  FakeRam src_ram, dst_ram;
  FakeVm src_vm, dst_vm;
  FakeObserver observer;
  DeviceScript device;
};

void migrate(LoopRun& r, const Scenario& s) {
  r.observer.result = &r.result;
  r.dst_vm.running = false;
  MigrationDriver driver(
      "migration", s, nullptr, false, {nullptr, r.src_ram, r.src_vm},
      {nullptr, r.dst_ram, r.dst_vm}, r.observer, r.result,
      [&](MigrationContext& ctx) { return std::make_unique<ChunkDevice>(ctx, r.device); });
  sc_core::sc_start();
}

// When the loop decided (the end of the last pre-copy iteration).
double decided_at(const Result& r) {
  return r.iterations.back().start_s + r.iterations.back().duration_s;
}

TEST(MigrationThread, RateLimitedRamTakesItsBytesOverTheLimit) {
  constexpr uint64_t kPages = 40000;  // 164 MB of written pages
  LoopRun r(kPages);
  for (uint64_t p = 0; p < kPages; ++p) r.src_ram.tokens[p] = p + 1;
  auto s = scenario(kPages);
  // A 3 MB threshold: the rule cannot fire while a window's worth is left.
  s.migration.downtime_limit_s = 0.03;
  migrate(r, s);
  const auto& res = r.result;
  ASSERT_EQ(res.outcome, "completed") << res.reason;
  EXPECT_TRUE(res.converged);
  const double bytes = static_cast<double>(kPages * (kPage + 8));
  // Every window but the last moves its 10 MB budget (and at most one page
  // more) at line rate, then sleeps: the pass ends within one window of
  // bytes / rate_limit.
  EXPECT_GE(res.iterations[0].ram_bytes, kPages * (kPage + 8));
  EXPECT_NEAR(decided_at(res), bytes / *s.link.rate_limit, 0.1);
  EXPECT_LT(decided_at(res), bytes / *s.link.rate_limit) << "the last burst is at line rate";
  // By hand: ceil(10 MB / 4104) = 2437 pages a window; 16 windows leave
  // 1008 pages (4.1 MB, above the threshold), sent at line rate in the 17th.
  EXPECT_NEAR(decided_at(res), 1.6 + (1008.0 * (kPage + 8) + 8) / kLine, 1e-9);
  // Nothing was written during the pass: the sync after it finds nothing
  // and the rule fires (0 pending) without a second pass.
  EXPECT_EQ(res.iterations.size(), 1u);
  EXPECT_EQ(res.iterations[0].remaining_bytes, 0u);
  EXPECT_EQ(r.dst_ram.tokens, r.src_ram.tokens);
}

TEST(MigrationThread, TheDeviceIsServedOnlyAfterRamFinishedItsPass) {
  constexpr uint64_t kPages = 10000;  // 41 MB: four windows and a bit
  LoopRun r(kPages);
  for (uint64_t p = 0; p < kPages; ++p) r.src_ram.tokens[p] = p + 1;
  r.device.precopy = 100 * kMiB;  // the estimate stays above the threshold
  r.device.stop_copy = 20'000'000;
  migrate(r, scenario(kPages));
  ASSERT_EQ(r.result.outcome, "completed") << r.result.reason;
  // A window's budget is ceil(10 MB / 4104) = 2437 pages: 4 full windows,
  // then the last 252 pages (+ an 8-byte slice checksum) open the fifth at
  // line rate, and only then the first device read.
  EXPECT_NEAR(r.device.first_chunk_s, 0.4 + (252.0 * (kPage + 8) + 8) / kLine, 1e-9);
}

// A device with 205 MiB of pre-copy data and 20 MB of stop-copy state,
// RAM all zero (1000 headers): every window sends ten 1 MiB reads (9 MiB
// < the 10 MB budget <= 10 MiB), so from the second window on the
// threshold is 10 MiB / 0.1 s × 0.3 s = 30 MiB. The estimate (pre-copy
// bytes left) first drops below it after read n = 176 (29 MiB left), in
// the 18th window: 1.7 s + 6 reads at line rate.
constexpr uint64_t kZeroPages = 1000;
constexpr double kThreshold = 30.0 * kMiB;

// Fills a run's device as above.
void device_run(LoopRun& r) {
  r.device.precopy = 205 * kMiB;
  r.device.stop_copy = 20'000'000;
}

TEST(MigrationThread, SwitchesAtTheFirstPassWherePendingIsBelowTheWindowsThreshold) {
  LoopRun r(kZeroPages);
  device_run(r);
  migrate(r, scenario(kZeroPages));
  const auto& res = r.result;
  ASSERT_EQ(res.outcome, "completed") << res.reason;
  EXPECT_EQ(res.switchover, "converged");
  EXPECT_NEAR(decided_at(res), 1.7 + 6 * kMiB / kLine, 1e-9);
  EXPECT_EQ(r.device.sent, 176 * kMiB);
  // One exact query: the first time the estimate was under the threshold.
  EXPECT_EQ(r.device.exact_calls, 1);
  ASSERT_EQ(res.iterations.size(), 1u);
  EXPECT_EQ(res.iterations[0].remaining_bytes, 20'000'000u) << "9.2: stop-copy size only";
  EXPECT_NEAR(res.iterations[0].expected_downtime_s, 20e6 / (10.0 * kMiB / 0.1), 1e-9);
  EXPECT_EQ(res.stop_copy->device_bytes, 20'000'000u);
  EXPECT_LT(20e6, kThreshold);
}

TEST(MigrationThread, Policy81AddsThePrecopyBytesToTheExactPending) {
  LoopRun r(kZeroPages);
  device_run(r);
  auto s = scenario(kZeroPages);
  s.migration.qemu_policy = QemuPolicy::k8_1;
  migrate(r, s);
  const auto& res = r.result;
  ASSERT_EQ(res.outcome, "completed") << res.reason;
  // The first exact query (after read 176) counts 20 MB + the 29 MiB still
  // to pre-copy: exactly the device's pre-copy bytes more than under 9.2.
  ASSERT_GE(res.iterations.size(), 2u);
  EXPECT_EQ(res.iterations[0].remaining_bytes, 20'000'000u + 29 * kMiB);
  // Switch once 20 MB + left < 30 MiB: left <= 10 MiB, after read 195,
  // the 5th read of the 20th window. Every pass in between synced.
  EXPECT_NEAR(decided_at(res), 1.9 + 5 * kMiB / kLine, 1e-9);
  EXPECT_EQ(r.device.sent, 195 * kMiB);
  EXPECT_EQ(res.iterations.back().remaining_bytes, 20'000'000u + 10 * kMiB);
  EXPECT_EQ(res.iterations.size(), 195u - 176u + 1u);
}

// QEMU's `!pending_size` test: before the first window ends the threshold
// is 0, so no exact query is made, and an estimate of 0 (RAM's pass done, a
// stop-copy-only device contributes nothing to the estimate) switches at
// once, whatever the device's stop-copy size.
TEST(MigrationThread, AnEstimateOfZeroSwitchesWithoutAnExactQuery) {
  constexpr uint64_t kPages = 100;
  LoopRun r(kPages);
  for (uint64_t p = 0; p < kPages; ++p) r.src_ram.tokens[p] = p + 1;
  r.device.stop_copy = 500'000'000;  // 0.5 s at line rate
  migrate(r, scenario(kPages));
  const auto& res = r.result;
  ASSERT_EQ(res.outcome, "completed") << res.reason;
  EXPECT_EQ(r.device.exact_calls, 0);
  EXPECT_NEAR(decided_at(res), (100.0 * (kPage + 8) + 8) / kLine, 1e-9);
  // The stop-copy bytes over the link, then applied at resume_bandwidth.
  EXPECT_NEAR(res.downtime_s, 0.5 + 500e6 / 1e12, 1e-6) << "far above the 300 ms limit";
}

TEST(MigrationThread, DeviceExactPendingByPolicy) {
  EXPECT_EQ(device_exact_pending(QemuPolicy::k9_2, 1000, 300), 1000u);
  EXPECT_EQ(device_exact_pending(QemuPolicy::k8_1, 1000, 300), 1300u);
}

TEST(MigrationThread, SwitchoverAckHoldsTheSwitchUntilTheInitialBytesArrived) {
  LoopRun r(kZeroPages);
  device_run(r);
  r.device.initial = 190 * kMiB;
  auto s = scenario(kZeroPages);
  s.migration.switchover_ack = true;
  migrate(r, s);
  const auto& res = r.result;
  ASSERT_EQ(res.outcome, "completed") << res.reason;
  // Without the ack the rule fires after read 176; the ack comes with the
  // last initial byte, read 190, the 10th of the 19th window, which then
  // sleeps out its spent budget: the next pass, at 1.9 s, switches.
  EXPECT_NEAR(decided_at(res), 1.9, 1e-9);
  EXPECT_EQ(r.device.sent, 190 * kMiB);
}

TEST(MigrationThread, TimeoutCancelsWithThePendingAndThreshold) {
  LoopRun r(kZeroPages);
  device_run(r);
  r.device.stop_copy = 5'000'000'000;  // never under 30 MiB
  auto s = scenario(kZeroPages);
  s.migration.timeout_s = 1.0;
  migrate(r, s);
  const auto& res = r.result;
  EXPECT_EQ(res.outcome, "cancelled");
  EXPECT_NE(res.reason.find("the timeout (1.000 s) passed"), std::string::npos) << res.reason;
  EXPECT_NE(res.reason.find("5000000000 bytes"), std::string::npos) << res.reason;
  EXPECT_TRUE(r.src_vm.running);
}

// The destination's RAM, counting how often each page arrives.
class CountingRam : public FakeRam {
 public:
  using FakeRam::FakeRam;
  void set_token(uint64_t page, uint64_t token) override {
    ++arrivals[page];
    FakeRam::set_token(page, token);
  }
  std::vector<int> arrivals = std::vector<int>(tokens.size(), 0);
};

// Rewrites [first, last) of the source's RAM at `at_s` (a vCPU write: new
// content, dirty-logged).
void write_at(FakeRam& ram, double at_s, std::vector<std::pair<uint64_t, uint64_t>> ranges) {
  sc_core::sc_spawn([&ram, at_s, ranges] {
    sc_core::wait(sc_core::sc_time(at_s, sc_core::SC_SEC));
    for (const auto& [first, last] : ranges)
      for (uint64_t p = first; p < last; ++p) {
        ram.tokens[p] += 1'000'000;
        ram.mark_dirty(p);
      }
  });
}

// The pass's cursor over its bits: a page written during a pass is sent
// once more if the pass had sent it before the next dirty sync, and not
// again if it was still ahead of the cursor then (the sync merges it into
// the unsent part, once). 20000 written pages, 2437 a 100 ms window
// (ceil(10 MB / 4104)), a 3 MB threshold (30 ms of 100 MB/s): unsent pages
// < 731 first at 0.8 s, when 8 windows have sent pages 0..19495.
TEST(MigrationThread, APageWrittenDuringAPassIsSentOnceMoreOnlyIfTheCursorHadPassedIt) {
  constexpr uint64_t kPages = 20000;
  Result result;
  FakeRam src(kPages);
  CountingRam dst(kPages);
  FakeVm src_vm, dst_vm;
  FakeObserver observer;
  DeviceScript device;
  for (uint64_t p = 0; p < kPages; ++p) src.tokens[p] = p + 1;
  // At 0.15 s (window 1 has sent its pages, 0..4873): behind the cursor
  // [100, 1100) and [4870, 4874), ahead of it [4874, 4880) (sent by 0.8 s),
  // and ahead of where it is at 0.8 s: [19480, 19510) straddles 19496,
  // [19800, 19900) is all ahead.
  write_at(src, 0.15, {{100, 1100}, {4870, 4880}, {19480, 19510}, {19800, 19900}});
  // While the merged pass (1530 pages, 6.3 ms at line rate from 0.8 s) is
  // on the wire: pages it holds and pages it does not.
  write_at(src, 0.803, {{150, 160}, {5000, 5010}});
  auto s = scenario(kPages);
  s.migration.downtime_limit_s = 0.03;
  observer.result = &result;
  dst_vm.running = false;
  MigrationDriver driver(
      "migration", s, nullptr, false, {nullptr, src, src_vm}, {nullptr, dst, dst_vm}, observer,
      result, [&](MigrationContext& ctx) { return std::make_unique<ChunkDevice>(ctx, device); });
  sc_core::sc_start();
  ASSERT_EQ(result.outcome, "completed") << result.reason;
  EXPECT_EQ(dst.tokens, src.tokens);
  // By hand: the sync at 0.8 s finds the 1140 pages written at 0.15 s; the
  // 1026 the cursor had passed join the 504 unsent ones (the other 114 are
  // among them, counted once): a pass of 1530.
  ASSERT_EQ(result.iterations.size(), 2u);
  EXPECT_EQ(result.iterations[0].remaining_bytes, 1530 * (kPage + 8));
  EXPECT_EQ(result.iterations[1].ram_dirty_pages, 1530u);
  // The next sync (the pass sent) finds the 20 of 0.803 s: under the
  // threshold, they go in the stop-copy.
  EXPECT_EQ(result.iterations[1].remaining_bytes, 20 * (kPage + 8));
  std::vector<int> expected(kPages, 1);
  for (const auto& [first, last] : std::vector<std::pair<uint64_t, uint64_t>>{
           {100, 1100}, {4870, 4880}, {19480, 19496}, {150, 160}, {5000, 5010}})
    for (uint64_t p = first; p < last; ++p) ++expected[p];
  EXPECT_EQ(dst.arrivals, expected);
}

}  // namespace
