// The migration driver (sim/vmm/migration_driver.cpp) with fakes: guest RAM
// and vCPUs as in-memory ports, a fake device client (no frontend, no
// device: a script of pending bytes), a fake observer. Expectations come from
// the wire format (zero page = 8-byte header, page = 8 + page bytes, 8-byte
// checksum per slice) and QEMU's rule (remaining / bandwidth <= limit).
#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

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
  FakePeek peek;
  FakeObserver observer;
  Script script;
};

void migrate(Fixture& r, const Scenario& s) {
  for (uint64_t p = 0; p < kTouched; ++p) r.src_ram.tokens[p * 7] = 1000 + p;
  r.observer.result = &r.result;
  r.dst_vm.running = false;  // the destination VM waits for the incoming migration
  MigrationDriver driver(
      "migration", s, nullptr, false, {nullptr, r.src_ram, r.src_vm},
      {nullptr, r.dst_ram, r.dst_vm}, r.peek, r.observer, r.result,
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

}  // namespace
