// The source's side of post-copy: the pages the destination lacks, and the
// order they are sent in. Pages the destination asked for and the background
// push share one FIFO; each unsent page is queued at most once at a time and
// sent at most once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <set>
#include <vector>

#include "mdevsim/models/memory/dirty_bitmap.h"

namespace mdevsim::models {

class PostcopyQueue {
 public:
  // The switch: `missing` (ascending) of `page_count` pages stay at the source.
  void start(uint64_t page_count, std::vector<uint64_t> missing);
  // The list the switch package carries (the MISSING record).
  const std::vector<uint64_t>& missing() const { return missing_; }

  // Queues the unsent pages of [first, first+count) not already queued;
  // returns how many.
  uint64_t queue(uint64_t first, uint64_t count);
  // Queues up to max_pages unsent pages in push order: the missing list's,
  // or (hot_first, with heat) the hottest first, ties in list order. The
  // order is fixed at the first call.
  uint64_t queue_background(uint64_t max_pages, bool hot_first, const std::vector<uint8_t>& heat);
  // The next queued page still unsent (now sent); false when none is.
  bool pop(uint64_t& page);

  bool queue_empty() const { return queue_.empty(); }
  uint64_t unsent() const { return unsent_.count(); }

 private:
  DirtyBitmap unsent_;
  std::vector<uint64_t> missing_, push_order_;
  bool push_order_ready_ = false;
  size_t push_pos_ = 0;
  std::deque<uint64_t> queue_;
  std::set<uint64_t> queued_;
};

}  // namespace mdevsim::models
