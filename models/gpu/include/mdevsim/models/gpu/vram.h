// Device memory. Engines write pages through write_page(), a direct call in
// the spirit of TLM DMI: a b_transport per page write would cost more than
// the page write itself and buy no timing accuracy at this abstraction.
// Nothing outside the device addresses VRAM (no BAR for it), so it has no
// TLM socket.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include <systemc>

#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

class Vram : public sc_core::sc_module {
 public:
  Vram(sc_core::sc_module_name name, uint64_t size_bytes, uint32_t page_size)
      : sc_core::sc_module(name), store_(size_bytes, page_size) {}

  void write_page(uint64_t page, uint64_t value) { store_.write(page, value); }

  uint64_t token(uint64_t page) const { return store_.token(page); }
  PageStore& store() { return store_; }
  const PageStore& store() const { return store_; }

  // ---- post-copy: pages still at the source (GPU MMU: reads and partial
  // writes both need the old content, so any touch faults).
  void set_missing(const std::vector<uint64_t>& pages) {
    missing_.reset(store_.page_count(), pages);
    notified_.resize(store_.page_count());
  }
  uint64_t missing_count() const { return missing_.count(); }
  bool missing(uint64_t page) const { return missing_.test(page); }
  // Fills a missing page with the source's content (no-op if present).
  bool place_page(uint64_t page, uint64_t token) {
    if (!missing_.test(page)) return false;
    store_.set_token(page, token);
    missing_.fill(page);
    placed_.emplace_back(page, token);
    return true;
  }
  // From the device's SystemC thread. The first touch of a missing page
  // raises its fault (MissingPages) and, with a notify set, tells the
  // frontend at that instant (its eventfd), before the thread waits.
  void touch(uint64_t page) {
    if (fault_notify_ && missing_.test(page) && !notified_.test(page)) {
      notified_.set(page);
      fault_notify_();
    }
    missing_.touch(page);
  }
  void set_fault_notify(std::function<void()> notify) { fault_notify_ = std::move(notify); }
  std::vector<uint64_t> take_faults() { return missing_.take_faults(); }
  const sc_core::sc_event& fault_raised() const { return missing_.fault_raised(); }
  uint64_t faults() const { return missing_.faults(); }
  const std::vector<double>& stalls() const { return missing_.stalls(); }
  const std::vector<MissingPages::FaultRecord>& fault_log() const { return missing_.fault_log(); }
  // Pages placed during post-copy with the content they arrived with.
  const std::vector<std::pair<uint64_t, uint64_t>>& placed() const { return placed_; }

 private:
  PageStore store_;
  MissingPages missing_;
  DirtyBitmap notified_;  // pages whose fault was notified (MissingPages' first touch)
  std::function<void()> fault_notify_;
  std::vector<std::pair<uint64_t, uint64_t>> placed_;
};

}  // namespace mdevsim::models
