// One bit per page: set when the page changes, collected and cleared by a
// migration pass. Word-level operations keep collect/count cheap even for
// tens of millions of pages (a 64 GiB VRAM with 4 KiB pages is a 2 MiB bitmap).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace mdevsim::models {

// Bits set in `x`. std::popcount without a popcnt target (no -mpopcnt: the
// portable default) is a call into libgcc's __popcountdi2; this is the same
// count inline (SWAR), or the instruction when the target has it.
inline unsigned popcount64(uint64_t x) {
#if defined(__POPCNT__) || !(defined(__x86_64__) || defined(__i386__))
  return static_cast<unsigned>(std::popcount(x));
#else
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<unsigned>((x * 0x0101010101010101ULL) >> 56);
#endif
}

class DirtyBitmap {
 public:
  explicit DirtyBitmap(uint64_t bits = 0) { resize(bits); }

  void resize(uint64_t bits) {
    bits_ = bits;
    words_.assign((bits + 63) / 64, 0);
    count_ = 0;
  }

  uint64_t size() const { return bits_; }
  uint64_t count() const { return count_; }
  bool test(uint64_t i) const { return (words_[i >> 6] >> (i & 63)) & 1U; }

  // Stores only when the bit changes: a page written again while still dirty
  // (a hot set) costs a load, which keeps more page writes in flight.
  void set(uint64_t i) {
    uint64_t& w = words_[i >> 6];
    const uint64_t b = uint64_t{1} << (i & 63);
    if ((w & b) == 0) {
      w |= b;
      ++count_;
    }
  }

  void clear(uint64_t i) {
    uint64_t& w = words_[i >> 6];
    const uint64_t b = uint64_t{1} << (i & 63);
    count_ -= (w & b) != 0;
    w &= ~b;
  }

  void set_all() {
    for (auto& w : words_) w = ~uint64_t{0};
    trim_tail();
    count_ = bits_;
  }

  void clear_all() {
    for (auto& w : words_) w = 0;
    count_ = 0;
  }

  // Calls fn(index) for every set bit in ascending order.
  template <typename Fn>
  void for_each_set(Fn&& fn) const {
    for (uint64_t wi = 0; wi < words_.size(); ++wi) {
      uint64_t w = words_[wi];
      while (w != 0) {
        fn(wi * 64 + static_cast<uint64_t>(std::countr_zero(w)));
        w &= w - 1;
      }
    }
  }

  // Returns the set bits and clears them: one migration pass's dirty set.
  std::vector<uint64_t> collect_and_clear() {
    std::vector<uint64_t> out;
    out.reserve(count_);
    for_each_set([&](uint64_t i) { out.push_back(i); });
    clear_all();
    return out;
  }

  // Sets the bits of `bits` in word `wi` (bulk marking).
  void set_word(uint64_t wi, uint64_t bits) {
    count_ += popcount64(bits & ~words_[wi]);
    words_[wi] |= bits;
  }

  // Hands the set bits over as words and starts empty, reusing `words`'
  // storage: it must be empty or all clear.
  void take_words(std::vector<uint64_t>& words) {
    if (words.size() != words_.size()) words.assign(words_.size(), 0);
    words_.swap(words);
    count_ = 0;
  }

  const std::vector<uint64_t>& words() const { return words_; }

 private:
  void trim_tail() {
    if (bits_ % 64 != 0 && !words_.empty()) words_.back() &= (uint64_t{1} << (bits_ % 64)) - 1;
  }

  uint64_t bits_ = 0;
  uint64_t count_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace mdevsim::models
