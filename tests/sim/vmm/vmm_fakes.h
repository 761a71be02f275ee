// The VMM's own VM and the oracle as fakes, for driver tests without hosts:
// guest RAM as an in-memory token array with a dirty set and missing pages,
// vCPUs as flags, and an observer that marks the check at the switch passed.
// (The post-copy device is reached through the client's ABI: a fake client.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <systemc>

#include "vmm/migration_driver.h"
#include "vmm/vfio_client.h"

namespace mdevsim::sim::vmm::fakes {

using namespace mdevsim::sim;

class FakeRam : public GuestRamPort {
 public:
  explicit FakeRam(uint64_t pages) : tokens(pages, 0) {}
  uint64_t page_count() const override { return tokens.size(); }
  uint64_t token(uint64_t page) const override { return tokens[page]; }
  uint64_t touched_pages() const override {
    return static_cast<uint64_t>(
        std::count_if(tokens.begin(), tokens.end(), [](uint64_t t) { return t; }));
  }
  void mark_touched_dirty() override {
    dirty.clear();
    for (uint64_t p = 0; p < tokens.size(); ++p)
      if (tokens[p]) dirty.insert(p);
  }
  void start_dirty_log() override { logging = true; }
  void mark_dirty(uint64_t page) override { dirty.insert(page); }
  uint64_t dirty_count() const override { return dirty.size(); }
  void collect_dirty(PageBits& pass) override {
    pass.words.assign((tokens.size() + 63) / 64, 0);
    for (uint64_t p : dirty) pass.words[p / 64] |= uint64_t{1} << (p % 64);
    pass.count = dirty.size();
    dirty.clear();
  }
  void set_token(uint64_t page, uint64_t token) override { tokens[page] = token; }
  void set_missing(const std::vector<uint64_t>& pages) override {
    missing_.insert(pages.begin(), pages.end());
  }
  bool missing(uint64_t page) const override { return missing_.count(page) != 0; }
  uint64_t missing_count() const override { return missing_.size(); }
  std::vector<uint64_t> take_faults() override { return {}; }
  const sc_core::sc_event& fault_event() const override { return event_; }
  bool place(uint64_t page, uint64_t token) override {
    if (!missing_.erase(page)) return false;
    tokens[page] = token;
    return true;
  }
  std::vector<uint64_t> tokens;
  std::set<uint64_t> dirty;
  bool logging = false;

 private:
  std::set<uint64_t> missing_;
  sc_core::sc_event event_;
};

struct FakeVm : VmPort {
  void set_running(bool r) override { running = r; }
  void set_throttle(double f) override { throttle = f; }
  void load_cpu_state_from(const VmPort&) override { cpu_loaded = true; }
  bool running = true, cpu_loaded = false;
  double throttle = 0;
};

struct FakeObserver : MigrationObserver {
  void postcopy_switched() override {}
  void postcopy_sample() override {}
  void postcopy_finished(const PostcopyFigures&) override {}
  void precopy_switched() override {
    ++checks;
    result->verification.checked = result->verification.passed = true;
  }
  uint64_t source_state_hash() const override { return 42; }
  bool source_running() const override { return true; }
  Result* result = nullptr;
  int checks = 0;
};

// A scripted device client's controls that the loop tests do not look at:
// every arc succeeds, the source keeps running, nothing is counted.
class QuietVfioClient : public VfioClient {
 public:
  using VfioClient::VfioClient;
  bool stop_source(bool) override { return true; }
  long start_destination(bool) override { return 0; }
  void end_source_session() override {}
  long run_source_again() override { return 0; }
  bool source_running() const override { return true; }
  void reset_source() override {}
  void reset_destination() override {}
  std::pair<uint32_t, uint32_t> next_switch_arc() const override { return {2, 6}; }
  void fail_next_arc(std::pair<uint32_t, uint32_t>) override {}
  uint64_t dirty_bytes_hint(const IterationResult&) const override { return 0; }
  bool send_all(uint64_t&) override { return true; }
  void add_abi_counts(Result&) const override {}
};

// The qemu loop on an ideal link (efficiency 1, a free zero-page scan, no
// latency) with a 100 MB/s rate limit: a 10 MB budget per 100 ms window,
// QEMU's 300 ms downtime limit, no cap on syncs, no timeout.
inline Scenario qemu_loop_scenario(double line_bytes_per_s, uint64_t page, uint64_t pages) {
  Scenario s;
  s.link.bandwidth = line_bytes_per_s;
  s.link.efficiency = 1.0;
  s.vm.scan_bandwidth = std::numeric_limits<double>::infinity();
  s.link.latency_s = 0;
  s.link.rate_limit = 100e6;
  s.migration.start_at_s = 0;
  s.migration.downtime_limit_s = 0.3;
  s.migration.loop = MigrationLoop::kQemu;
  s.migration.max_iterations = 0;
  s.migration.timeout_s = 0;
  s.vm.page_size = static_cast<uint32_t>(page);
  s.vm.ram_bytes = pages * page;
  s.vm.dma_dirty_tracking = false;
  s.device.resume_bandwidth = 1e12;
  return s;
}

}  // namespace mdevsim::sim::vmm::fakes
