// A page's bytes on a migration stream, derived from its content token
// (models/memory/page_store.h) and mapped back: word 0 is the token, word 1
// the page index, word i (i >= 2) a simple keyed sequence. Any changed byte
// breaks the sequence, so a payload maps back to its token or is detected as
// corrupt; the sequence is cheap because every migrated page is expanded and
// checked. Token 0 is the all-zero page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "mdevsim/models/common/rng.h"

namespace mdevsim::models::page_payload {

inline constexpr uint64_t kStep = 0x9e3779b97f4a7c15ULL;
inline uint64_t seed(uint64_t page, uint64_t tok) {
  return mix64(tok ^ (page * 0xd1b54a32d192ed03ULL));
}

// The bytes of `page` holding `tok`; `out` is the page (page_size bytes).
inline void fill(uint64_t page, uint64_t tok, std::span<uint8_t> out) {
  if (tok == 0) {
    std::memset(out.data(), 0, out.size());
    return;
  }
  const size_t words = out.size() / 8;
  uint64_t w[2] = {tok, page};
  std::memcpy(out.data(), w, 16);
  uint64_t v = seed(page, tok);
  for (size_t i = 2; i < words; ++i) {
    v += kStep;
    std::memcpy(out.data() + i * 8, &v, 8);
  }
}

// Inverse of fill(): false if `in` is not a payload fill() could have
// produced for `page` (corrupt data).
inline bool token_from(uint64_t page, std::span<const uint8_t> in, uint64_t& tok) {
  uint64_t w[2];
  std::memcpy(w, in.data(), 16);
  if (w[0] == 0) {
    for (uint8_t b : in) {
      if (b != 0) return false;
    }
    tok = 0;
    return true;
  }
  if (w[1] != page) return false;
  const size_t words = in.size() / 8;
  uint64_t v = seed(page, w[0]);
  uint64_t diff = 0;
  for (size_t i = 2; i < words; ++i) {
    v += kStep;
    uint64_t got;
    std::memcpy(&got, in.data() + i * 8, 8);
    diff |= got ^ v;
  }
  if (diff != 0) return false;
  tok = w[0];
  return true;
}

}  // namespace mdevsim::models::page_payload
