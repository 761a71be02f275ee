#include "mdevsim/models/stream/pass_tracker.h"

#include <bit>
#include <utility>

namespace mdevsim::models {

namespace {
// Next set bit at or after `from` (wrapping once), or none.
bool next_set(const DirtyBitmap& b, uint64_t from, uint64_t& found) {
  if (b.count() == 0) return false;
  const auto& words = b.words();
  const size_t nw = words.size();
  size_t wi = from / 64;
  uint64_t w = wi < nw ? words[wi] & (~uint64_t{0} << (from % 64)) : 0;
  for (size_t step = 0; step <= nw; ++step) {
    if (w != 0) {
      found = wi * 64 + static_cast<uint64_t>(std::countr_zero(w));
      return true;
    }
    wi = (wi + 1) % nw;
    w = words[wi];
  }
  return false;
}
}  // namespace

PassTracker::PassTracker(PageStore& memory) : memory_(memory) {
  pass_.resize(memory_.page_count());
  // Every non-zero page, a word (64 pages) at a time.
  for (uint64_t wi = 0; wi < pass_.words().size(); ++wi)
    if (const uint64_t bits = memory_.nonzero_word(wi)) pass_.set_word(wi, bits);
  memory_.dirty().clear_all();
  memory_.start_tracking();
}

PassTracker::~PassTracker() { memory_.stop_tracking(); }

uint64_t PassTracker::union_pages() const {
  const auto& d = memory_.dirty().words();
  const auto& p = pass_.words();
  uint64_t n = 0;
  for (size_t w = 0; w < d.size(); ++w) n += popcount64(d[w] | p[w]);
  return n;
}

bool PassTracker::next(uint64_t& page) {
  if (!next_set(pass_, cursor_, page) && memory_.dirty().count() > 0) {
    // The pass is done: the pages dirty now form the next one.
    std::swap(pass_, memory_.dirty());
    memory_.dirty().clear_all();
    initial_ = false;
    if (heat_.empty()) heat_.assign(memory_.page_count(), 0);
    pass_.for_each_set([&](uint64_t p) {
      if (heat_[p] < 255) ++heat_[p];
    });
    cursor_ = 0;
  }
  if (!next_set(pass_, cursor_, page)) return false;
  cursor_ = page + 1;
  return true;
}

std::vector<uint64_t> PassTracker::take_unsent() {
  std::vector<uint64_t> out;
  const auto& d = memory_.dirty().words();
  const auto& p = pass_.words();
  for (size_t w = 0; w < d.size(); ++w)
    for (uint64_t bits = d[w] | p[w]; bits; bits &= bits - 1)
      out.push_back(w * 64 + static_cast<uint64_t>(std::countr_zero(bits)));
  pass_.clear_all();
  memory_.dirty().clear_all();
  return out;
}

}  // namespace mdevsim::models
