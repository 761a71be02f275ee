// Which pages of a device's memory a save stream sends next. Passes work like
// QEMU's RAM passes: a pass sends the pages that were dirty when it began
// (the first pass: every touched page); pages written during a pass stay
// dirty for the next one, even if the pass already sent them, as with
// dirty-bit hardware that is sampled once per pass.
#pragma once

#include <cstdint>
#include <vector>

#include "mdevsim/models/memory/dirty_bitmap.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

class PassTracker {
 public:
  // Starts the first pass (every touched page) and the memory's dirty tracking.
  explicit PassTracker(PageStore& memory);
  ~PassTracker();
  PassTracker(const PassTracker&) = delete;
  PassTracker& operator=(const PassTracker&) = delete;

  // Still in the first pass (no re-dirtied page has been picked up yet).
  bool initial() const { return initial_; }
  // Pages of the current pass not yet sent; pages dirtied since it began.
  uint64_t pass_pages() const { return pass_.count(); }
  uint64_t dirty_pages() const { return memory_.dirty().count(); }
  // Distinct pages still to send: in the current pass or dirty since.
  uint64_t union_pages() const;

  // The next page to send, in ascending order within a pass; when the pass
  // is done, the pages dirty now form the next one. False: nothing to send.
  bool next(uint64_t& page);
  // `page` was sent. final: the device is stopped, so the content sent is
  // final and a dirty bit set earlier needs no second copy.
  void sent(uint64_t page, bool final) {
    pass_.clear(page);
    if (final) memory_.dirty().clear(page);
  }
  // Post-copy: every page still to send, ascending; the tracker is then empty.
  std::vector<uint64_t> take_unsent();
  // Per page, in how many passes after the first it was found re-dirtied
  // (saturating at 255); empty until a second pass began.
  const std::vector<uint8_t>& heat() const { return heat_; }

 private:
  PageStore& memory_;
  DirtyBitmap pass_;  // pages of the current pass not yet sent
  bool initial_ = true;
  uint64_t cursor_ = 0;
  std::vector<uint8_t> heat_;
};

}  // namespace mdevsim::models
