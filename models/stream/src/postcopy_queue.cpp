#include "mdevsim/models/stream/postcopy_queue.h"

#include <algorithm>
#include <utility>

namespace mdevsim::models {

void PostcopyQueue::start(uint64_t page_count, std::vector<uint64_t> missing) {
  unsent_.resize(page_count);
  for (uint64_t p : missing) unsent_.set(p);
  missing_ = std::move(missing);
}

uint64_t PostcopyQueue::queue(uint64_t first, uint64_t count) {
  uint64_t n = 0;
  for (uint64_t p = first; p < first + count && p < unsent_.size(); ++p)
    if (unsent_.test(p) && !queued_.count(p)) {
      queue_.push_back(p);
      queued_.insert(p);
      ++n;
    }
  return n;
}

uint64_t PostcopyQueue::queue_background(uint64_t max_pages, bool hot_first,
                                         const std::vector<uint8_t>& heat) {
  if (!push_order_ready_) {
    push_order_ = missing_;
    if (hot_first && !heat.empty())
      std::stable_sort(push_order_.begin(), push_order_.end(),
                       [&](uint64_t a, uint64_t b) { return heat[a] > heat[b]; });
    push_order_ready_ = true;
  }
  uint64_t n = 0;
  while (n < max_pages && push_pos_ < push_order_.size()) n += queue(push_order_[push_pos_++], 1);
  return n;
}

bool PostcopyQueue::pop(uint64_t& page) {
  while (!queue_.empty()) {
    const uint64_t p = queue_.front();
    queue_.pop_front();
    queued_.erase(p);
    if (unsent_.test(p)) {
      unsent_.clear(p);
      page = p;
      return true;
    }
  }
  return false;
}

}  // namespace mdevsim::models
