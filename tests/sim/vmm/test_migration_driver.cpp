// The migration driver (sim/vmm/migration_driver.cpp) with fakes: guest RAM
// and vCPUs as in-memory ports, a fake device client (no frontend, no
// device: a script of pending bytes), a fake observer. Expectations come from
// the wire format (zero page = 8-byte header, page = 8 + page bytes, 8-byte
// checksum per slice) and QEMU's rule (remaining / bandwidth <= limit).
// Post-copy: a fake destination ABI (FAULTS, its eventfd, page records) with
// faults at scripted times.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi.h"
#include "vmm/migration_driver.h"
#include "vmm_fakes.h"

namespace {

using namespace mdevsim::sim;
using namespace mdevsim::sim::vmm;
using namespace mdevsim::sim::vmm::fakes;

// A device that sends `sent[k]` bytes in iteration k and then reports
// `left[k]` bytes still to send at stop-copy; `stop_bytes` in the switch.
struct Script {
  std::vector<uint64_t> sent, left;
  uint64_t stop_bytes = 0;
  bool stop_fails = false;
  std::vector<std::string> calls;
};

class FakeDevice : public VfioClient {
 public:
  FakeDevice(MigrationContext& ctx, Script& s)
      : VfioClient(ctx, mdevsim::vfio::builtin_protocol_v2()), s_(s) {}
  bool setup() override { return log("setup"), true; }
  void pending_estimate(IterationResult&) override { log("estimate"); }
  bool iterate(IterationResult& it) override {
    log("iterate");
    const uint64_t n = s_.sent.at(std::min(k_, s_.sent.size() - 1));
    if (!ctx_.link.transfer(n, true)) return false;
    it.device_bytes += n;
    return true;
  }
  uint64_t pending_exact() override {
    log("exact");
    return s_.left.at(std::min(k_++, s_.left.size() - 1));
  }
  bool complete(StopCopyResult& sc) override {
    log("complete");
    if (!ctx_.link.transfer(s_.stop_bytes, false)) return false;
    sc.device_bytes += s_.stop_bytes;
    return true;
  }
  bool stop_source(bool serve) override {
    log(serve ? "stop(serve)" : "stop");
    if (s_.stop_fails) {
      failed_ = true;
      return ctx_.fail("the source device failed to stop (EIO)");
    }
    return true;
  }
  long start_destination(bool) override { return log("start_destination"), 0; }
  void end_source_session() override { log("end_source_session"); }
  long run_source_again() override { return log("run_source_again"), 0; }
  bool source_running() const override { return true; }
  void reset_source() override { log("reset_source"); }
  void reset_destination() override { log("reset_destination"); }
  std::pair<uint32_t, uint32_t> next_switch_arc() const override { return {2, 6}; }
  void fail_next_arc(std::pair<uint32_t, uint32_t>) override {}
  uint64_t dirty_bytes_hint(const IterationResult&) const override { return 0; }
  bool send_all(uint64_t&) override { return true; }
  void add_abi_counts(Result& r) const override { r.abi_calls["fake"] = s_.calls.size(); }

 private:
  void log(const char* c) { s_.calls.push_back(c); }
  Script& s_;
  size_t k_ = 0;
};

constexpr uint64_t kPages = 1000, kTouched = 10, kPage = 4096;

Scenario scenario() {
  Scenario s;
  s.link.bandwidth = 1e9;  // bytes/s
  s.link.latency_s = 0;
  s.link.efficiency = 1.0;  // an ideal link and a free zero-page scan: the
  s.vm.scan_bandwidth = std::numeric_limits<double>::infinity();  // rule's arithmetic alone
  s.migration.start_at_s = 0;
  s.migration.downtime_limit_s = 0.3;
  s.vm.page_size = kPage;
  s.vm.ram_bytes = kPages * kPage;
  s.vm.dma_dirty_tracking = false;
  s.device.resume_bandwidth = 1e12;
  return s;
}

struct Fixture {
  Result result;
  FakeRam src_ram{kPages}, dst_ram{kPages};
  FakeVm src_vm, dst_vm;
  FakeObserver observer;
  Script script;
};

void migrate(Fixture& r, const Scenario& s) {
  for (uint64_t p = 0; p < kTouched; ++p) r.src_ram.tokens[p * 7] = 1000 + p;
  r.observer.result = &r.result;
  r.dst_vm.running = false;  // the destination VM waits for the incoming migration
  MigrationDriver driver(
      "migration", s, nullptr, false, {nullptr, r.src_ram, r.src_vm},
      {nullptr, r.dst_ram, r.dst_vm}, r.observer, r.result,
      [&](MigrationContext& ctx) { return std::make_unique<FakeDevice>(ctx, r.script); });
  sc_core::sc_start();
}

// First pass: the never-written pages as headers, then one slice with the
// written ones and its checksum.
constexpr uint64_t kFirstPassRam = (kPages - kTouched) * 8 + kTouched * (kPage + 8) + 8;

TEST(MigrationDriver, SwitchesWhenRemainingOverBandwidthFitsTheLimit) {
  Fixture r;
  r.script.sent = {300'000'000, 100'000'000, 50'000'000};
  r.script.left = {2'000'000'000, 500'000'000, 200'000'000};  // 2 s, 0.5 s, 0.2 s at 1 GB/s
  r.script.stop_bytes = 200'000'000;
  migrate(r, scenario());
  const auto& res = r.result;
  EXPECT_EQ(res.outcome, "completed") << res.reason;
  EXPECT_EQ(res.switchover, "converged");
  EXPECT_TRUE(res.converged);
  ASSERT_EQ(res.iterations.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    SCOPED_TRACE(k);
    EXPECT_EQ(res.iterations[k].remaining_bytes, r.script.left[k]) << "RAM has nothing dirty";
    EXPECT_EQ(res.iterations[k].device_bytes, r.script.sent[k]);
    EXPECT_NEAR(res.iterations[k].bandwidth, 1e9, 1e3);
    EXPECT_NEAR(res.iterations[k].expected_downtime_s, r.script.left[k] / 1e9, 1e-6);
  }
  EXPECT_EQ(res.iterations[0].ram_bytes, kFirstPassRam);
  EXPECT_EQ(res.iterations[1].ram_bytes, 0u);
  // The written pages arrived; the zero pages needed nothing.
  EXPECT_EQ(r.dst_ram.tokens, r.src_ram.tokens);
  EXPECT_EQ(res.device_bytes, 300'000'000u + 100'000'000u + 50'000'000u + 200'000'000u);
  EXPECT_EQ(res.ram_bytes, kFirstPassRam);
  // Downtime: the stop-copy bytes over the link, then applying them.
  EXPECT_NEAR(res.downtime_s, 0.2 + 200e6 / 1e12, 1e-6);
  // The handlers in QEMU's order, then the switch.
  const std::vector<std::string> round = {"estimate", "iterate", "exact"};
  std::vector<std::string> want = {"setup"};
  for (int k = 0; k < 3; ++k) want.insert(want.end(), round.begin(), round.end());
  for (const char* c : {"stop", "complete", "start_destination", "end_source_session"})
    want.push_back(c);
  EXPECT_EQ(r.script.calls, want);
  EXPECT_FALSE(r.src_vm.running);
  EXPECT_TRUE(r.dst_vm.running);
  EXPECT_TRUE(r.dst_vm.cpu_loaded);
  EXPECT_EQ(r.observer.checks, 1);
}

TEST(MigrationDriver, OutOfIterationsCancelsAndTheSourceRunsAgain) {
  Fixture r;
  r.script.sent = {100'000'000};
  r.script.left = {5'000'000'000};  // 5 s: never fits
  auto s = scenario();
  s.migration.max_iterations = 2;
  migrate(r, s);
  const auto& res = r.result;
  EXPECT_EQ(res.outcome, "cancelled");
  EXPECT_NE(res.reason.find("after 2 iterations"), std::string::npos) << res.reason;
  EXPECT_EQ(res.switchover, "none");
  EXPECT_EQ(res.iterations.size(), 2u);
  EXPECT_TRUE(res.verification.source_intact);
  EXPECT_FALSE(res.verification.source_reset);
  EXPECT_EQ(std::count(r.script.calls.begin(), r.script.calls.end(), "stop"), 0);
  EXPECT_EQ(r.script.calls.back(), "reset_destination");
  EXPECT_TRUE(r.src_vm.running);
  EXPECT_EQ(r.observer.checks, 0);
}

TEST(MigrationDriver, OutOfIterationsSwitchesAnywayUnderForce) {
  Fixture r;
  r.script.sent = {100'000'000};
  r.script.left = {5'000'000'000};
  r.script.stop_bytes = 5'000'000'000;
  auto s = scenario();
  s.migration.max_iterations = 2;
  s.migration.on_no_convergence = OnNoConvergence::kForce;
  migrate(r, s);
  const auto& res = r.result;
  EXPECT_EQ(res.outcome, "completed") << res.reason;
  EXPECT_EQ(res.switchover, "forced");
  EXPECT_FALSE(res.converged);
  EXPECT_NE(res.reason.find("switched over anyway"), std::string::npos) << res.reason;
  EXPECT_NEAR(res.downtime_s, 5.0 + 5e9 / 1e12, 1e-6);
}

TEST(MigrationDriver, AFailedStopCancelsWithTheDevicesReason) {
  Fixture r;
  r.script.sent = {1'000'000};
  r.script.left = {1'000'000};  // converges at once
  r.script.stop_fails = true;
  migrate(r, scenario());
  const auto& res = r.result;
  EXPECT_EQ(res.outcome, "cancelled");
  EXPECT_EQ(res.reason, "the source device failed to stop (EIO)");
  EXPECT_EQ(res.iterations.size(), 1u);
  EXPECT_TRUE(r.src_vm.running) << "the source VM runs again";
  EXPECT_FALSE(r.dst_vm.running);
}

// ---- post-copy over a fake ABI

// The destination as the VMM sees it through the post-copy proposal: FAULTS
// with its eventfd, REQUEST on the source, page records read from the save
// fd and written to the resume fd. Its FAULTS never reports `missing` again
// after the first call (as if the field were stale), so the driver's count
// can come only from what it delivered.
struct PostcopyScript {
  uint64_t missing_at_switch = 5, record_bytes = 100;
  std::set<uint64_t> missing = {0, 1, 2, 3, 4};  // at the destination
  std::set<uint64_t> unsent;                     // at the source (set from `missing`)
  std::vector<uint64_t> pending;                 // raised, not yet read with FAULTS
  uint64_t signals = 0;                          // the eventfd's count
  sc_core::sc_event wake;                        // its poll(2) wake-up
  std::vector<uint64_t> queued;                  // at the source, in queue order
  uint64_t delivered = 0;                        // resume-fd bytes
  uint64_t eventfd_reads = 0;
  std::vector<std::pair<double, uint64_t>> requests;  // (time, page) of fault requests
  std::vector<std::pair<double, uint64_t>> placed;    // (time, page) written to the resume fd
  double finished_at = -1;
  // `n` device pages 0..n-1 missing, each `record` bytes on the wire.
  void pages(uint64_t n, uint64_t record) {
    missing_at_switch = n;
    record_bytes = record;
    missing.clear();
    for (uint64_t p = 0; p < n; ++p) missing.insert(p);
  }
  double placed_at(uint64_t page) const {
    for (const auto& [t, p] : placed)
      if (p == page) return t;
    return -1;
  }
  void raise(uint64_t page) {
    pending.push_back(page);
    ++signals;
    wake.notify(sc_core::SC_ZERO_TIME);
  }
};

class FakePostcopyDevice : public FakeDevice {
 public:
  FakePostcopyDevice(MigrationContext& ctx, Script& s, PostcopyScript& pc)
      : FakeDevice(ctx, s), pc_(pc) {}
  bool attach_postcopy(bool eventfd, PostcopyAttach& out) override {
    out.missing_pages = pc_.missing_at_switch;
    out.record_bytes = pc_.record_bytes;
    out.eventfd = eventfd_ = eventfd;
    pc_.unsent = pc_.missing;
    return true;
  }
  std::vector<uint64_t> read_faults(uint64_t*) override { return std::exchange(pc_.pending, {}); }
  bool fault_signalled() override { return pc_.signals > 0; }
  const sc_core::sc_event* fault_wake() const override { return eventfd_ ? &pc_.wake : nullptr; }
  void clear_fault_signal() override {
    pc_.signals = 0;
    ++pc_.eventfd_reads;
  }
  // A fault's request queues its pages; a background request the next
  // `count` unsent pages in page order. A page is queued once.
  bool request_pages(uint64_t first, uint64_t count, uint32_t flags, uint64_t& queued) override {
    queued = 0;
    auto queue = [&](uint64_t p) {
      if (!pc_.unsent.count(p) ||
          std::find(pc_.queued.begin(), pc_.queued.end(), p) != pc_.queued.end())
        return false;
      pc_.queued.push_back(p);
      ++queued;
      return true;
    };
    if (flags & VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND) {
      for (auto it = pc_.unsent.begin(); it != pc_.unsent.end() && queued < count; ++it) queue(*it);
      return true;
    }
    pc_.requests.emplace_back(sc_core::sc_time_stamp().to_seconds(), first);
    for (uint64_t p = first; p < first + count; ++p) queue(p);
    return true;
  }
  // One record per queued page: its number in the first 8 bytes.
  bool read_queued(std::vector<uint8_t>& out) override {
    out.assign(pc_.queued.size() * pc_.record_bytes, 0);
    for (size_t k = 0; k < pc_.queued.size(); ++k) {
      std::memcpy(out.data() + k * pc_.record_bytes, &pc_.queued[k], sizeof(uint64_t));
      pc_.unsent.erase(pc_.queued[k]);
    }
    pc_.queued.clear();
    return true;
  }
  bool write_resume(const std::vector<uint8_t>& bytes) override {
    EXPECT_EQ(bytes.size() % pc_.record_bytes, 0u) << "whole records only";
    for (size_t off = 0; off + pc_.record_bytes <= bytes.size(); off += pc_.record_bytes) {
      uint64_t p = 0;
      std::memcpy(&p, bytes.data() + off, sizeof p);
      EXPECT_EQ(pc_.missing.erase(p), 1u) << "page " << p << " placed twice";
      pc_.placed.emplace_back(sc_core::sc_time_stamp().to_seconds(), p);
    }
    pc_.delivered += bytes.size();
    return true;
  }
  uint64_t bytes_delivered() const override { return pc_.delivered; }
  bool finish_postcopy(bool) override {
    pc_.finished_at = sc_core::sc_time_stamp().to_seconds();
    return true;
  }

 private:
  PostcopyScript& pc_;
  bool eventfd_ = false;
};

struct PostcopyObserver : FakeObserver {
  void postcopy_finished(const PostcopyFigures& f) override {
    figures = f;
    result->verification.checked = result->verification.passed = true;
  }
  PostcopyFigures figures;
};

// Pure post-copy of a VM whose RAM is all zero (nothing missing there), with
// no background push: only faults move device pages.
void postcopy_migrate(PostcopyScript& pc, PostcopyObserver& observer, Result& result,
                      const std::vector<std::pair<double, uint64_t>>& faults,
                      const std::string& protocol = "v2-postcopy",
                      const std::function<void(Scenario&)>& tweak = {}) {
  auto s = scenario();
  s.device.protocol = protocol;
  s.device.protocol_def = std::make_shared<const mdevsim::vfio::ProtocolSpec>(
      mdevsim::vfio::resolve_protocol(protocol));
  s.migration.mode = MigrationMode::kPostcopy;
  s.migration.background_push = false;
  s.migration.run_after_s = 1.0;  // no push before the faults are done
  if (tweak) tweak(s);
  FakeRam src_ram{kPages}, dst_ram{kPages};
  FakeVm src_vm, dst_vm;
  Script script;
  observer.result = &result;
  MigrationDriver driver("migration", s, nullptr, false, {nullptr, src_ram, src_vm},
                         {nullptr, dst_ram, dst_vm}, observer, result, [&](MigrationContext& ctx) {
                           return std::make_unique<FakePostcopyDevice>(ctx, script, pc);
                         });
  sc_core::sc_spawn([&] {  // the destination device touching missing pages
    for (const auto& [t, page] : faults) {
      sc_core::wait(sc_core::sc_time::from_seconds(t) - sc_core::sc_time_stamp());
      pc.raise(page);
    }
  });
  sc_core::sc_start();
}

// The faults, off the 1 ms grid of the service's timer.
const std::vector<std::pair<double, uint64_t>> kFaults = {
    {2.5e-3, 3}, {4.25e-3, 0}, {6.1e-3, 4}, {8.0e-3, 1}, {9.9e-3, 2}};

TEST(MigrationDriverPostcopy, TheFaultServiceWakesOnTheEventfd) {
  PostcopyScript pc;
  PostcopyObserver observer;
  Result result;
  postcopy_migrate(pc, observer, result, kFaults);
  EXPECT_EQ(result.outcome, "completed") << result.reason;
  // Each request leaves one fault_latency (the protocol's 20 us) after its
  // fault: the eventfd woke the VMM. A timer alone (1 ms) would have left
  // 2.5 ms's fault until 3 ms.
  const double latency = 20e-6;
  ASSERT_EQ(pc.requests.size(), kFaults.size());
  for (size_t k = 0; k < kFaults.size(); ++k) {
    SCOPED_TRACE(k);
    EXPECT_NEAR(pc.requests[k].first, kFaults[k].first + latency, 1e-9);
    EXPECT_EQ(pc.requests[k].second, kFaults[k].second);
  }
  EXPECT_EQ(pc.eventfd_reads, kFaults.size()) << "each wake-up zeroes the eventfd";
}

TEST(MigrationDriverPostcopy, MissingPagesArePagesAtSwitchLessPagesDelivered) {
  PostcopyScript pc;
  PostcopyObserver observer;
  Result result;
  postcopy_migrate(pc, observer, result, kFaults);
  EXPECT_EQ(observer.figures.missing_vram_at_switch, pc.missing_at_switch);
  EXPECT_EQ(observer.figures.device_record_bytes, pc.record_bytes);
  EXPECT_EQ(observer.figures.device_bytes, 5 * pc.record_bytes);
  // FAULTS never said `missing` was 0: the service ended because five page
  // records had been written, as soon as the last one was: its fault's
  // delivery (20 us), no link latency each way, and one 100-byte record at
  // 1 GB/s.
  EXPECT_TRUE(pc.missing.empty());
  EXPECT_NEAR(pc.finished_at, kFaults.back().first + 20e-6 + 100 / 1e9, 1e-9);
}

TEST(MigrationDriverPostcopy, APollingProtocolAsksForNoEventfdAndPollsOnItsInterval) {
  PostcopyScript pc;
  PostcopyObserver observer;
  Result result;
  postcopy_migrate(pc, observer, result, kFaults, "v2-postcopy-poll");
  EXPECT_EQ(result.outcome, "completed") << result.reason;
  EXPECT_EQ(pc.eventfd_reads, 0u);
  ASSERT_EQ(pc.requests.size(), kFaults.size());
  // FAULTS every 1 ms from the end of the switch: a fault waits for the
  // next poll (the device's faults do not wake the VMM), then the request
  // goes out at once.
  const double t0 = observer.figures.t_stop + result.downtime_s;  // the service starts
  for (size_t k = 0; k < kFaults.size(); ++k) {
    SCOPED_TRACE(k);
    const double poll = t0 + std::ceil((kFaults[k].first - t0) / 1e-3) * 1e-3;
    // (A timeout rounded to the time resolution can land just short of the
    // poll time; the service then sleeps its 1 us minimum once more.)
    EXPECT_GE(pc.requests[k].first, poll - 1e-9);
    EXPECT_LE(pc.requests[k].first, poll + 1.5e-6);
  }
}

// ---- the background push and a fault at once (QEMU's post-copy: the push
// never waits for a fault's round trip)
//
// 2000 device pages of 1000-byte records on a 1 GB/s link with 100 us of
// latency; RAM has nothing missing, so every background slice (0.25 ms at
// link speed: 250 000 bytes) is 250 device records. Page 1999 is the last in
// push order; it faults at 1 ms, when the push is at about page 1000.
constexpr uint64_t kPushPages = 2000, kPushRecord = 1000, kFaultPage = 1999;
constexpr double kBw = 1e9, kLatency = 100e-6, kDelivery = 20e-6, kSlice = 250e-6;
constexpr double kFaultAt = 1e-3;

void push_and_fault(PostcopyScript& pc, PostcopyObserver& observer, Result& result, bool preempt) {
  pc.pages(kPushPages, kPushRecord);
  postcopy_migrate(pc, observer, result, {{kFaultAt, kFaultPage}}, "v2-postcopy", [&](Scenario& s) {
    s.link.latency_s = kLatency;
    s.migration.background_push = true;
    s.migration.hot_first = false;
    s.migration.postcopy_preempt = preempt;
  });
}

// The service starts when the switch ends (the VM runs at the destination).
double service_start(const PostcopyObserver& o, const Result& r) {
  return o.figures.t_stop + r.downtime_s;
}

TEST(MigrationDriverPostcopy, AFaultDuringThePushIsServedAfterOneRoundTripAndItsSlice) {
  PostcopyScript pc;
  PostcopyObserver observer;
  Result result;
  push_and_fault(pc, observer, result, false);
  ASSERT_EQ(result.outcome, "completed") << result.reason;
  const double t0 = service_start(observer, result);
  // The request leaves when the eventfd has woken the VMM and reaches the
  // source one latency later.
  const double at_source = kFaultAt + kDelivery + kLatency;
  ASSERT_EQ(pc.requests.size(), 1u);
  EXPECT_NEAR(pc.requests[0].first, at_source, 1e-9);
  // Without postcopy-preempt the page goes out on the main stream when the
  // background slice under way ends (slices of exactly 250 us from t0), as
  // one 1000-byte record (1 us), and is placed one latency later.
  const double slice_end = t0 + std::ceil((at_source - t0) / kSlice) * kSlice;
  ASSERT_GT(slice_end - at_source, 2e-6) << "the request must arrive inside a slice";
  EXPECT_NEAR(pc.placed_at(kFaultPage), slice_end + kPushRecord / kBw + kLatency, 1e-9);
  // The push kept streaming meanwhile: the page went out once, the link
  // was busy all along, and the last record lands one latency after the
  // 2 MB have left: 2 ms + 100 us after the service started. (The old
  // driver stopped the push for the fault's round trip.)
  EXPECT_EQ(pc.placed.size(), kPushPages);
  EXPECT_TRUE(pc.missing.empty());
  EXPECT_NEAR(pc.finished_at, t0 + kPushPages * kPushRecord / kBw + kLatency, 1e-9);
  EXPECT_EQ(observer.figures.device_bytes, kPushPages * kPushRecord);
}

TEST(MigrationDriverPostcopy, WithPreemptTheRequestedPageDoesNotWaitBehindThePush) {
  PostcopyScript pc;
  PostcopyObserver observer;
  Result result;
  push_and_fault(pc, observer, result, true);
  ASSERT_EQ(result.outcome, "completed") << result.reason;
  const double t0 = service_start(observer, result);
  const double at_source = kFaultAt + kDelivery + kLatency;
  // It leaves as soon as its request arrives, on its own channel, sharing
  // the link with the busy main stream (half of 1 GB/s each: 2 us for its
  // 1000 bytes), and is placed one latency later: one round trip plus its
  // transfer after the fault was delivered.
  const double placed = at_source + kPushRecord / (kBw / 2) + kLatency;
  EXPECT_NEAR(pc.placed_at(kFaultPage), placed, 1e-9);
  EXPECT_NEAR(pc.placed_at(kFaultPage) - kFaultAt, kDelivery + 2 * kLatency + 2e-6, 1e-9);
  // Without preempt (the test above) it would have waited for the slice
  // under way to end.
  const double slice_end = t0 + std::ceil((at_source - t0) / kSlice) * kSlice;
  EXPECT_LT(placed, slice_end + kPushRecord / kBw + kLatency);
  // The two channels share the link; the total is the same 2 MB.
  EXPECT_EQ(pc.placed.size(), kPushPages);
  EXPECT_NEAR(pc.finished_at, t0 + kPushPages * kPushRecord / kBw + kLatency, 1e-9);
}

}  // namespace
