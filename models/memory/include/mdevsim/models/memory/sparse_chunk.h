// The pages of a PageStore chunk without dense storage
// (models/memory/page_store.h) that hold a token of their own: presence bits,
// per bit word the number of tokens before it, and the tokens in page order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mdevsim/models/memory/dirty_bitmap.h"

namespace mdevsim::models {

struct SparseChunk {
  static constexpr uint64_t kWords = 64;  // 4096 pages
  uint64_t present[kWords] = {};
  uint16_t rank[kWords] = {};
  uint32_t writes = 0;
  std::vector<uint64_t> tokens;

  bool has(uint64_t i) const { return (present[i >> 6] >> (i & 63)) & 1; }
  size_t index(uint64_t i) const {
    const uint64_t below = (uint64_t{1} << (i & 63)) - 1;
    return rank[i >> 6] + size_t{popcount64(present[i >> 6] & below)};
  }
  void insert(uint64_t i, uint64_t tok) {
    tokens.insert(tokens.begin() + static_cast<std::ptrdiff_t>(index(i)), tok);
    present[i >> 6] |= uint64_t{1} << (i & 63);
    for (uint64_t w = (i >> 6) + 1; w < kWords; ++w) ++rank[w];
  }
  void erase(uint64_t i) {
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(index(i)));
    present[i >> 6] &= ~(uint64_t{1} << (i & 63));
    for (uint64_t w = (i >> 6) + 1; w < kWords; ++w) --rank[w];
  }
};

}  // namespace mdevsim::models
