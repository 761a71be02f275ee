// Post-copy destination memory: the pages still at the source. A touch of a
// missing page raises one fault (the first touch only) and blocks the
// touching SystemC thread until fill() brings the page; later touches of a
// page already asked for wait without a new fault. Used for VRAM (engines)
// and for guest RAM (vCPUs, as with userfaultfd).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <systemc>

#include "mdevsim/models/memory/dirty_bitmap.h"

namespace mdevsim::models {

class MissingPages {
 public:
  struct FaultRecord {
    double t_s;  // when the fault was raised
    uint64_t page;
    double stall_s;  // how long the touching work waited
  };

  void reset(uint64_t pages, const std::vector<uint64_t>& missing) {
    missing_.resize(pages);
    faulted_.resize(pages);
    for (uint64_t p : missing)
      if (p < pages) missing_.set(p);
  }
  uint64_t count() const { return missing_.count(); }
  bool test(uint64_t page) const {
    return missing_.count() > 0 && page < missing_.size() && missing_.test(page);
  }
  // The page arrived (or was overwritten whole): no longer missing.
  bool fill(uint64_t page) {
    if (!test(page)) return false;
    missing_.clear(page);
    arrived_.notify(sc_core::SC_ZERO_TIME);
    return true;
  }
  // From a SystemC thread, before it touches `page`.
  void touch(uint64_t page) {
    if (!test(page)) return;
    const double t0 = sc_core::sc_time_stamp().to_seconds();
    const bool first = !faulted_.test(page);
    if (first) {
      faulted_.set(page);
      pending_.push_back(page);
      fault_raised_.notify(sc_core::SC_ZERO_TIME);
    }
    while (test(page)) sc_core::wait(arrived_);
    const double stall = sc_core::sc_time_stamp().to_seconds() - t0;
    stalls_.push_back(stall);
    if (first) log_.push_back({t0, page, stall});
  }
  // Faults raised and not yet collected by whoever reports them.
  std::vector<uint64_t> take_faults() { return std::exchange(pending_, {}); }
  const sc_core::sc_event& fault_raised() const { return fault_raised_; }
  uint64_t faults() const { return log_.size() + pending_waiting(); }
  const std::vector<double>& stalls() const { return stalls_; }  // per touch
  const std::vector<FaultRecord>& fault_log() const { return log_; }

 private:
  // Faults whose work is still waiting (raised, not yet in the log).
  uint64_t pending_waiting() const { return faulted_.count() - log_.size(); }
  DirtyBitmap missing_, faulted_;
  std::vector<uint64_t> pending_;
  std::vector<double> stalls_;
  std::vector<FaultRecord> log_;
  sc_core::sc_event arrived_, fault_raised_;
};

}  // namespace mdevsim::models
