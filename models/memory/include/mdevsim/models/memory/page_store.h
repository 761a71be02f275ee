// Sparse page-granular memory used for VRAM and for guest RAM.
//
// A page is represented by a 64-bit content token instead of its bytes: every
// write folds a value into the token, so two memories hold equal content
// exactly when their tokens are equal. The page's byte payload (what goes over
// a migration stream) is derived from the token deterministically and maps
// back to it (models/memory/page_payload.h). Storage is allocated in chunks
// as pages are first touched (models/memory/chunk_arena.h), so a 64 GiB
// memory with 1 GiB in use costs a few MiB, not 64 GiB.
//
// Resident pages (weights loaded before the run, a guest's RAM in use) hold
// "version 0" content from time 0: a token that is a function of the store's
// content salt and the page index, kept as one bit per page while its chunk
// does not exist. A 1 TiB memory 100% resident costs 32 MiB, not its 2 GiB of
// tokens. A chunk's first written pages are kept sparse (their tokens in
// page order beside presence bits, the rest of the chunk still bits); once
// enough of them are written the chunk becomes dense with its resident tokens
// filled in, so the hot write path never looks at resident bits. Uniform
// writes over a resident 1 TiB cost 8 bytes per written page, not 32 KiB per
// chunk they hit.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mdevsim/models/common/rng.h"
#include "mdevsim/models/memory/chunk_arena.h"
#include "mdevsim/models/memory/dirty_bitmap.h"
#include "mdevsim/models/memory/sparse_chunk.h"

namespace mdevsim::models {

// A named range of pages that is resident (holds content) from time 0.
struct ResidentRegion {
  std::string name;  // "weights", "kv_cache"; may be empty
  uint64_t first_page = 0;
  uint64_t pages = 0;
  bool operator==(const ResidentRegion&) const = default;
};

class PageStore {
 public:
  static constexpr unsigned kChunkShift = 12;  // 4096 tokens (32 KiB) per chunk
  static constexpr uint64_t kChunkPages = uint64_t{1} << kChunkShift;
  // After its tokens, a chunk holds one bit per page that is set while the
  // token is non-zero: walking the touched pages reads 512 bytes per chunk,
  // not 32 KiB. Then one bit per page still holding the resident content it
  // took when the chunk became dense (cleared by any change of its token):
  // those pages migrate and compare as bits, like resident pages without a
  // chunk, and their token slot stays 0 (a chunk becoming dense computes no
  // tokens; the first write computes the one it folds into).
  static constexpr uint64_t kPresentWords = kChunkPages / 64;
  static_assert(SparseChunk::kWords == kPresentWords);

  PageStore(uint64_t size_bytes, uint32_t page_size) { reset_geometry(size_bytes, page_size); }

  uint64_t size_bytes() const { return size_bytes_; }
  uint32_t page_size() const { return page_size_; }
  uint64_t page_count() const { return pages_; }
  uint64_t touched_pages() const {
    settle();
    return touched_;
  }

  // A chunk stays sparse until more than this many of its pages hold tokens
  // of their own (8 KiB of tokens against a dense chunk's 32 KiB), or it
  // took more than kSparseMaxWrites writes (a sparse write costs a rank,
  // three cache lines and a shift; a busy chunk is worth its 32 KiB).
  static constexpr uint64_t kSparseMaxPages = 1024;
  static constexpr uint32_t kSparseMaxWrites = 256;

  // Token 0 means "never written": the page reads as zeros.
  uint64_t token(uint64_t page) const {
    settle();
    if (const uint64_t* chunk = chunks_[page >> kChunkShift]) [[likely]] {
      const uint64_t i = page & (kChunkPages - 1);
      if (const uint64_t t = chunk[i]; t != 0 || !is_pristine(chunk, i)) [[likely]]
        return t;
      return resident_token(page);
    }
    return token_slow(page);
  }

  // A write of `value` to the page: content changes, the page becomes dirty
  // if tracking is on. Hot path of every workload. A write is applied kLag
  // writes later, in order, its token and dirty word prefetched when it is
  // queued: writes all over a large memory keep kLag cache misses in flight
  // instead of the few the CPU's window holds. Every other member applies
  // the queue first, so nothing can observe the lag.
  void write(uint64_t page, uint64_t value) {
    prefetch(page);
    Queued& q = queue_[queue_head_];
    if (queued_ == kLag)
      apply(q);
    else
      ++queued_;
    q = {page, value};
    queue_head_ = (queue_head_ + 1) & (kLag - 1);
  }

  // Hint: `page` is written soon (its token and dirty word start loading).
  void prefetch(uint64_t page) const {
    const uint64_t i = page & (kChunkPages - 1);
    if (const uint64_t* chunk = chunks_[page >> kChunkShift]) {
      touch_line(chunk + i);
    } else if (const SparseChunk* s = sparse_[page >> kChunkShift].get()) {
      touch_line(&s->present[i >> 6]);
      touch_line(&s->rank[i >> 6]);
    }
    touch_line(dirty_.words().data() + (page >> 6));
  }

  // A write the dirty log does not see (device DMA into guest RAM: KVM's
  // dirty logging misses it, which is why VFIO reports DMA-dirty pages).
  void write_untracked(uint64_t page, uint64_t value) {
    settle();
    write_now(page, value);
  }

  // Restore path: set content without counting a write or dirtying the page.
  // A page arriving with its resident (version 0) content stays a bit.
  void set_token(uint64_t page, uint64_t tok) {
    settle();
    uint64_t* chunk = chunks_[page >> kChunkShift];
    if (!chunk) return set_token_sparse(page, tok);
    if (tok == 0) return drop_stored(page);
    const uint64_t i = page & (kChunkPages - 1);
    uint64_t& t = chunk[i];
    if (t == 0 && !is_pristine(chunk, i)) mark_present(page);
    t = tok;
    forget_pristine(chunk, i);
  }

  // ---- resident content
  // Which version-0 content this memory's resident pages hold (a source and
  // its destination share it, so arriving resident pages stay bits).
  void set_content_salt(uint64_t salt) {
    settle();
    salt_ = salt;
    salted_ = true;
  }
  bool salted() const { return salted_; }
  // The content a resident page holds until it is first written: never 0.
  uint64_t resident_token(uint64_t page) const {
    const uint64_t t = mix64(salt_ ^ (page * 0xd6e8feb86659fd93ULL));
    return t | (t == 0);
  }
  // Pages [first, first + count) hold their resident content from now on
  // (what they held before is replaced). Needs a content salt.
  void make_resident(uint64_t first, uint64_t count) {
    if (!salted_) throw std::logic_error("make_resident needs a content salt");
    if (first > pages_ || count > pages_ - first)
      throw std::invalid_argument("resident range beyond the memory");
    for (uint64_t p = first; p < first + count;) {
      const uint64_t lo = p & 63, n = std::min<uint64_t>(64 - lo, first + count - p);
      set_resident_bits(p >> 6, (n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << lo);
      p += n;
    }
  }
  // Resident pages kept as bits (their chunk not allocated yet).
  uint64_t resident_pages() const {
    settle();
    return resident_count_;
  }

  // Dirty tracking for migration passes.
  void start_tracking() {
    settle();
    tracking_ = true;
  }
  void stop_tracking() {
    settle();
    tracking_ = false;
  }
  bool tracking() const { return tracking_; }
  DirtyBitmap& dirty() {
    settle();
    return dirty_;
  }
  const DirtyBitmap& dirty() const {
    settle();
    return dirty_;
  }

  uint64_t writes() const {
    settle();
    return writes_;
  }

  // Drops every page (all content becomes zero) and the dirty set.
  void clear() {
    settle();
    for (auto& c : chunks_) c = nullptr;
    for (auto& s : sparse_) s.reset();
    arena_.release_all();
    touched_ = 0;
    dirty_.clear_all();
    resident_.clear();
    resident_.shrink_to_fit();
    resident_count_ = 0;
  }

  // Calls fn(page, token) for every non-zero page, ascending.
  template <typename Fn>
  void for_each_touched(Fn&& fn) const {
    settle();
    for (uint64_t ci = 0; ci < chunks_.size(); ++ci) {
      if (const uint64_t* chunk = chunks_[ci]) {
        for (uint64_t w = 0; w < kPresentWords; ++w) {
          for (uint64_t bits = chunk[kChunkPages + w]; bits != 0; bits &= bits - 1) {
            const uint64_t i = w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
            fn((ci << kChunkShift) + i, dense_token(chunk, (ci << kChunkShift) + i));
          }
        }
        continue;
      }
      const SparseChunk* s = sparse_[ci].get();
      if (!s && resident_count_ == 0) continue;
      size_t k = 0;  // the sparse tokens are in page order
      for (uint64_t w = 0; w < kPresentWords; ++w) {
        const uint64_t wi = ci * kPresentWords + w;
        const uint64_t stored = s ? s->present[w] : 0;
        const uint64_t resident = wi < resident_.size() ? resident_[wi] : 0;
        for (uint64_t bits = stored | resident; bits != 0; bits &= bits - 1) {
          const auto b = static_cast<uint64_t>(std::countr_zero(bits));
          const uint64_t page = (wi << 6) + b;
          fn(page, (stored >> b) & 1 ? s->tokens[k++] : resident_token(page));
        }
      }
    }
  }

  // Marks every non-zero page dirty (and no other), a word at a time: a
  // migration's first pass over a resident memory costs bits, not tokens.
  void mark_touched_dirty() {
    settle();
    dirty_.clear_all();
    for (uint64_t ci = 0; ci < chunks_.size(); ++ci) {
      const uint64_t* chunk = chunks_[ci];
      const SparseChunk* s = sparse_[ci].get();
      for (uint64_t w = 0; w < kPresentWords; ++w) {
        const uint64_t wi = ci * kPresentWords + w;
        if (wi >= dirty_.words().size()) return;
        const uint64_t bits =
            chunk ? chunk[kChunkPages + w]
                  : (s ? s->present[w] : 0) | (wi < resident_.size() ? resident_[wi] : 0);
        if (bits != 0) dirty_.set_word(wi, bits);
      }
    }
  }

  // ---- 64 pages at a time: bit word `wi` holds pages [64 wi, 64 wi + 64)
  // (bit i: page 64 wi + i), as in the dirty bitmap.
  // Which pages of the word hold non-zero content.
  uint64_t nonzero_word(uint64_t wi) const {
    settle();
    const uint64_t ci = wi / kPresentWords, w = wi % kPresentWords;
    if (const uint64_t* chunk = chunks_[ci]) return chunk[kChunkPages + w];
    const SparseChunk* s = sparse_[ci].get();
    return (s ? s->present[w] : 0) | resident_word(wi);
  }
  // out[i] = token(64 wi + i) for every bit i of `mask` (other entries are
  // left alone): one lookup of the chunk for the word, no per-page search.
  void word_tokens(uint64_t wi, uint64_t mask, uint64_t* out) const {
    settle();
    const uint64_t ci = wi / kPresentWords, w = wi % kPresentWords;
    if (const uint64_t* chunk = chunks_[ci]) {
      const uint64_t* t = chunk + w * 64;
      const uint64_t pristine = pristine_word(chunk, w * 64) & mask;
      for (uint64_t bits = mask & ~pristine; bits != 0; bits &= bits - 1) {
        const auto i = static_cast<unsigned>(std::countr_zero(bits));
        out[i] = t[i];
      }
      for (uint64_t bits = pristine; bits != 0; bits &= bits - 1) {
        const auto i = static_cast<unsigned>(std::countr_zero(bits));
        out[i] = resident_token((wi << 6) + i);
      }
      return;
    }
    const SparseChunk* s = sparse_[ci].get();
    const uint64_t stored = s ? s->present[w] : 0;
    if (stored & mask) {
      size_t k = s->rank[w];  // the word's sparse tokens, in page order
      for (uint64_t bits = stored; bits != 0; bits &= bits - 1, ++k) {
        const auto i = static_cast<unsigned>(std::countr_zero(bits));
        if ((mask >> i) & 1) out[i] = s->tokens[k];
      }
    }
    const uint64_t resident = resident_word(wi);
    for (uint64_t bits = mask & ~stored; bits != 0; bits &= bits - 1) {
      const auto i = static_cast<unsigned>(std::countr_zero(bits));
      out[i] = (resident >> i) & 1 ? resident_token((wi << 6) + i) : 0;
    }
  }
  // Which pages of `mask` in bit word `wi` hold their resident content as
  // bits (their chunk stores no tokens): pages a migration can hand over as
  // bits, without computing a token at either end.
  uint64_t resident_bits(uint64_t wi, uint64_t mask) const {
    settle();
    return mask & resident_view(wi);
  }
  // The pages of `mask` in bit word `wi` take their resident content, as
  // set_token(p, resident_token(p)) would for each: a word of bits where
  // the chunk stores no tokens for them. Needs a content salt.
  void set_resident_bits(uint64_t wi, uint64_t mask) {
    if (!salted_) throw std::logic_error("set_resident_bits needs a content salt");
    settle();
    const uint64_t ci = wi / kPresentWords;
    if (uint64_t* chunk = chunks_[ci]) {
      const uint64_t at = (wi % kPresentWords) * 64;
      for (uint64_t bits = mask; bits != 0; bits &= bits - 1)
        chunk[at + static_cast<uint64_t>(std::countr_zero(bits))] = 0;
      touched_ += popcount64(mask & ~present_word(chunk, at));
      present_word(chunk, at) |= mask;
      pristine_word(chunk, at) |= mask;
      return;
    }
    const SparseChunk* s = sparse_[ci].get();
    if (s && (s->present[wi % kPresentWords] & mask) != 0) {
      for (uint64_t bits = mask; bits != 0; bits &= bits - 1) {
        const uint64_t page = (wi << 6) + static_cast<uint64_t>(std::countr_zero(bits));
        set_token(page, resident_token(page));
      }
      return;
    }
    add_resident_bits(wi, mask);
  }
  // Both stores give resident pages the same content.
  bool same_resident_content(const PageStore& other) const {
    return salted_ && other.salted_ && salt_ == other.salt_;
  }
  // set_token() for each (page, token) pair, in order. Consecutive pairs of
  // one bit word arriving with their resident content in a chunk that stores
  // no tokens (a migration's first pass over resident memory) become resident
  // bits a word at a time (pages it stores tokens for take the slow path).
  void set_tokens(std::span<const std::pair<uint64_t, uint64_t>> pairs) {
    settle();
    const size_t n = pairs.size();
    for (size_t k = 0; k < n;) {
      const uint64_t page = pairs[k].first, wi = page >> 6, ci = page >> kChunkShift;
      if (salted_ && !chunks_[ci]) {
        const SparseChunk* s = sparse_[ci].get();
        const uint64_t stored = s ? s->present[wi % kPresentWords] : 0;
        uint64_t bits = 0;
        size_t j = k;
        for (; j < n && (pairs[j].first >> 6) == wi && !((stored >> (pairs[j].first & 63)) & 1) &&
               pairs[j].second == resident_token(pairs[j].first);
             ++j)
          bits |= uint64_t{1} << (pairs[j].first & 63);
        if (j > k) {
          add_resident_bits(wi, bits);
          k = j;
          continue;
        }
      }
      if (!chunks_[ci]) {
        // Pages of one sparse chunk, ascending: one merge, not an insert each.
        const SparseChunk* s = sparse_[ci].get();
        const size_t room = kSparseMaxPages - (s ? s->tokens.size() : 0), end = k + room;
        size_t j = k + 1;
        while (j < n && j < end && (pairs[j].first >> kChunkShift) == ci &&
               pairs[j].first > pairs[j - 1].first)
          ++j;
        if (j - k >= kMergeRun) {  // j <= end: the chunk stays sparse
          set_sparse_run(ci, pairs.subspan(k, j - k));
          k = j;
          continue;
        }
      }
      set_token(page, pairs[k].second);
      ++k;
    }
  }

  // Calls fn(page, token in a, token in b) for every page whose content
  // differs between `a` and `b`, ascending; the same pages as comparing
  // token(p) page by page, found a word (64 pages) at a time: equal dense
  // words by one compare, pages both hold as resident bits of the same salt
  // without computing their tokens, chunks neither has without a look.
  template <typename Fn>
  static void for_each_difference(const PageStore& a, const PageStore& b, Fn&& fn) {
    a.settle();
    b.settle();
    if (a.pages_ != b.pages_) return for_each_difference_per_page(a, b, fn);
    const uint64_t words = (a.pages_ + 63) / 64;
    const bool same_salt = a.salt_ == b.salt_;  // resident bits mean the same tokens
    const bool resident = a.resident_count_ != 0 || b.resident_count_ != 0;
    uint64_t ta[64], tb[64];
    for (uint64_t ci = 0; ci < a.chunks_.size(); ++ci) {
      const uint64_t* ca = a.chunks_[ci];
      const uint64_t* cb = b.chunks_[ci];
      const SparseChunk* sa = ca ? nullptr : a.sparse_[ci].get();
      const SparseChunk* sb = cb ? nullptr : b.sparse_[ci].get();
      if (!ca && !cb && !sa && !sb && !resident) continue;  // zero in both
      const uint64_t w_end = std::min<uint64_t>(kPresentWords, words - ci * kPresentWords);
      for (uint64_t w = 0; w < w_end; ++w) {
        const uint64_t wi = ci * kPresentWords + w;
        if (ca && cb && pristine_word(ca, w * 64) == pristine_word(cb, w * 64) &&
            (same_salt || pristine_word(ca, w * 64) == 0)) {
          // Same pristine pages (their slots 0 in both): the slots compare.
          const uint64_t* xa = ca + w * 64;
          const uint64_t* xb = cb + w * 64;
          if (std::memcmp(xa, xb, 64 * sizeof(uint64_t)) == 0) continue;
          for (uint64_t bits = ca[kChunkPages + w] | cb[kChunkPages + w]; bits != 0;
               bits &= bits - 1) {
            const auto i = static_cast<unsigned>(std::countr_zero(bits));
            if (xa[i] != xb[i]) fn((wi << 6) + i, xa[i], xb[i]);
          }
          continue;
        }
        const uint64_t ma = a.nonzero_word(wi), mb = b.nonzero_word(wi);
        const uint64_t any = ma | mb;
        if (any == 0) continue;
        // Pages both hold with their resident content are equal: only the others.
        const uint64_t check = same_salt ? any & ~(a.resident_view(wi) & b.resident_view(wi)) : any;
        if (check == 0) continue;
        a.word_tokens(wi, check, ta);
        b.word_tokens(wi, check, tb);
        for (uint64_t bits = check; bits != 0; bits &= bits - 1) {
          const auto i = static_cast<unsigned>(std::countr_zero(bits));
          if (ta[i] != tb[i]) fn((wi << 6) + i, ta[i], tb[i]);
        }
      }
    }
  }

  // Order-independent hash of all content (page index and token).
  uint64_t content_hash() const {
    uint64_t h = mix64(pages_ ^ (uint64_t{page_size_} << 40));
    for_each_touched([&](uint64_t p, uint64_t t) { h += mix64(p * 0x9e3779b97f4a7c15ULL ^ t); });
    return h;
  }

  // Bytes of memory this store holds (chunks + bitmaps), for RSS accounting.
  uint64_t memory_bytes() const {
    settle();
    uint64_t sparse = sparse_.size() * sizeof(sparse_[0]);
    for (const auto& s : sparse_)
      if (s) sparse += sizeof(SparseChunk) + s->tokens.capacity() * 8;
    return chunks_.size() * sizeof(chunks_[0]) + dirty_.words().size() * 8 + arena_.bytes() +
           resident_.size() * 8 + sparse;
  }

 private:
  // A prefetch GCC 12 keeps: at -O2/-O3 it dropped __builtin_prefetch from
  // prefetch() (no prefetch instruction in the binary).
  static void touch_line(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
  }

  static constexpr unsigned kLag = 16;  // queued writes (a power of two)
  struct Queued {
    uint64_t page, value;
  };

  // Applies the queued writes. The queue is not content: a const reader
  // applying it changes nothing it could observe.
  void settle() const {
    if (queued_ != 0) [[unlikely]]
      const_cast<PageStore*>(this)->apply_queued();
  }
  [[gnu::noinline]] void apply_queued() {
    unsigned i = (queue_head_ - queued_) & (kLag - 1);
    for (; queued_ != 0; --queued_, i = (i + 1) & (kLag - 1)) apply(queue_[i]);
  }
  void apply(const Queued& q) {
    write_now(q.page, q.value);
    if (tracking_) dirty_.set(q.page);
  }

  void write_now(uint64_t page, uint64_t value) {
    ++writes_;
    uint64_t* chunk = chunks_[page >> kChunkShift];
    if (!chunk) [[unlikely]]
      return write_sparse(page, value);
    const uint64_t i = page & (kChunkPages - 1);
    uint64_t& t = chunk[i];
    if (t == 0) [[unlikely]] {
      if (is_pristine(chunk, i)) {
        t = resident_token(page);
        forget_pristine(chunk, i);
      } else {
        mark_present(page);
      }
    }
    t = fold(t, value);
  }

  static uint64_t fold(uint64_t t, uint64_t value) {
    const uint64_t next = mix64(t ^ value);
    return next | (next == 0);  // a written page never returns to the zero token
  }

  uint64_t token_slow(uint64_t page) const {
    const SparseChunk* s = sparse_[page >> kChunkShift].get();
    const uint64_t i = page & (kChunkPages - 1);
    if (s && s->has(i)) return s->tokens[s->index(i)];
    return resident_count_ != 0 && resident_bit(page) ? resident_token(page) : 0;
  }

  // A write into a chunk without dense storage.
  [[gnu::noinline]] void write_sparse(uint64_t page, uint64_t value) {
    const uint64_t ci = page >> kChunkShift, i = page & (kChunkPages - 1);
    auto& s = sparse_[ci];
    if (s && s->has(i)) {
      uint64_t& t = s->tokens[s->index(i)];
      t = fold(t, value);
      if (++s->writes > kSparseMaxWrites) make_dense(ci);
      return;
    }
    uint64_t old = 0;
    if (resident_count_ != 0 && resident_bit(page)) {
      old = resident_token(page);
      take_resident_bit(page);
    } else {
      ++touched_;
    }
    store_sparse(ci, i, fold(old, value));
    if (auto& t = sparse_[ci]; t && ++t->writes > kSparseMaxWrites) make_dense(ci);
  }

  [[gnu::noinline]] void set_token_sparse(uint64_t page, uint64_t tok) {
    const uint64_t ci = page >> kChunkShift, i = page & (kChunkPages - 1);
    auto& s = sparse_[ci];
    const bool stored = s && s->has(i);
    if (tok == 0 || (salted_ && tok == resident_token(page))) {
      if (stored) {
        s->erase(i);
        --touched_;
      }
      return tok == 0 ? clear_resident_bit(page) : set_resident_bit(page);
    }
    if (stored) {
      s->tokens[s->index(i)] = tok;
      return;
    }
    if (resident_count_ != 0 && resident_bit(page))
      take_resident_bit(page);
    else
      ++touched_;
    store_sparse(ci, i, tok);
  }

  // set_tokens() merges runs at least this long into a sparse chunk.
  static constexpr size_t kMergeRun = 4;
  // set_token() for each of `run`: pages of sparse chunk `ci`, ascending, that
  // leave it within kSparseMaxPages tokens (so it stays sparse, as page by
  // page). The chunk's tokens are merged with the run's in one pass.
  void set_sparse_run(uint64_t ci, std::span<const std::pair<uint64_t, uint64_t>> run) {
    auto& s = sparse_[ci];
    const bool existed = s != nullptr;
    if (!s) s = std::make_unique<SparseChunk>();
    merged_.clear();
    size_t old = 0, r = 0;
    for (uint64_t w = 0; w < kPresentWords; ++w) {
      s->rank[w] = static_cast<uint16_t>(merged_.size());
      uint64_t present = s->present[w];
      uint64_t updates = 0;
      for (size_t q = r; q < run.size() && ((run[q].first & (kChunkPages - 1)) >> 6) == w; ++q)
        updates |= uint64_t{1} << (run[q].first & 63);
      if (updates == 0) {
        const size_t count = popcount64(present);
        merged_.insert(merged_.end(), s->tokens.begin() + static_cast<std::ptrdiff_t>(old),
                       s->tokens.begin() + static_cast<std::ptrdiff_t>(old + count));
        old += count;
        continue;
      }
      const uint64_t wi = ci * kPresentWords + w;
      for (uint64_t bits = present | updates; bits != 0; bits &= bits - 1) {
        const auto b = static_cast<unsigned>(std::countr_zero(bits));
        const uint64_t bit = uint64_t{1} << b;
        const bool stored = (present & bit) != 0;
        const uint64_t was = stored ? s->tokens[old++] : 0;
        if (!(updates & bit)) {
          merged_.push_back(was);
          continue;
        }
        const uint64_t page = (wi << 6) + b, tok = run[r++].second;
        if (tok == 0 || (salted_ && tok == resident_token(page))) {
          if (stored) {
            present &= ~bit;
            --touched_;
          }
          if (tok == 0)
            clear_resident_bit(page);
          else
            set_resident_bit(page);
          continue;
        }
        if (!stored) {
          if (resident_count_ != 0 && resident_bit(page))
            take_resident_bit(page);
          else
            ++touched_;
          present |= bit;
        }
        merged_.push_back(tok);
      }
      s->present[w] = present;
    }
    if (merged_.empty() && !existed) {
      s.reset();  // as page by page: nothing stored, no sparse chunk
      return;
    }
    s->tokens.assign(merged_.begin(), merged_.end());
  }

  // A page not yet stored takes token `tok` (non-zero).
  void store_sparse(uint64_t ci, uint64_t i, uint64_t tok) {
    auto& s = sparse_[ci];
    if (!s) s = std::make_unique<SparseChunk>();
    s->insert(i, tok);
    if (s->tokens.size() > kSparseMaxPages) make_dense(ci);
  }

  // The chunk gets dense storage: resident content and sparse tokens move in.
  void make_dense(uint64_t ci) {
    uint64_t* chunk = arena_.allocate();  // zeroed
    if (resident_count_ != 0) fill_resident(ci, chunk);
    if (auto& s = sparse_[ci]) {
      size_t k = 0;
      for (uint64_t w = 0; w < kPresentWords; ++w) {
        for (uint64_t bits = s->present[w]; bits != 0; bits &= bits - 1)
          chunk[w * 64 + static_cast<uint64_t>(std::countr_zero(bits))] = s->tokens[k++];
        chunk[kChunkPages + w] |= s->present[w];
      }
      s.reset();
    }
    chunks_[ci] = chunk;
  }

  void reset_geometry(uint64_t size_bytes, uint32_t page_size) {
    if (page_size < 16 || (page_size & (page_size - 1)) != 0)
      throw std::invalid_argument("page size must be a power of two >= 16 bytes");
    if (size_bytes == 0 || size_bytes % page_size != 0)
      throw std::invalid_argument("memory size must be a non-zero multiple of the page size");
    size_bytes_ = size_bytes;
    page_size_ = page_size;
    pages_ = size_bytes / page_size;
    chunks_.assign((pages_ + kChunkPages - 1) >> kChunkShift, nullptr);
    sparse_.clear();
    sparse_.resize(chunks_.size());
    arena_.configure(kChunkPages + 2 * kPresentWords, chunks_.size());
    dirty_.resize(pages_);
    touched_ = 0;
  }

  // A new chunk takes over its pages' resident content as pristine bits (no tokens).
  void fill_resident(uint64_t ci, uint64_t* chunk) {
    for (uint64_t w = 0; w < kPresentWords; ++w) {
      const uint64_t wi = ci * kPresentWords + w;
      if (wi >= resident_.size()) return;
      const uint64_t bits = resident_[wi];
      if (bits == 0) continue;
      chunk[kChunkPages + w] = bits;
      pristine_word(chunk, w * 64) = bits;
      resident_[wi] = 0;
      resident_count_ -= popcount64(bits);  // still touched
    }
  }

  uint64_t resident_word(uint64_t wi) const {
    return resident_count_ != 0 && wi < resident_.size() ? resident_[wi] : 0;
  }
  // for_each_difference() of stores of different sizes (pages beyond one
  // read as zero there).
  template <typename Fn>
  static void for_each_difference_per_page(const PageStore& a, const PageStore& b, Fn& fn) {
    auto token = [](const PageStore& s, uint64_t p) { return p < s.pages_ ? s.token(p) : 0; };
    const uint64_t n = std::max(a.pages_, b.pages_);
    for (uint64_t p = 0; p < n; ++p)
      if (const uint64_t x = token(a, p), y = token(b, p); x != y) fn(p, x, y);
  }
  bool resident_bit(uint64_t page) const { return (resident_[page >> 6] >> (page & 63)) & 1; }
  void set_resident_bit(uint64_t page) {
    if (resident_.empty()) resident_.assign((pages_ + 63) / 64, 0);
    uint64_t& w = resident_[page >> 6];
    const uint64_t b = uint64_t{1} << (page & 63);
    if (w & b) return;
    w |= b;
    ++resident_count_;
    ++touched_;
  }
  // The page's resident content is replaced by a stored token (still touched).
  void take_resident_bit(uint64_t page) {
    resident_[page >> 6] &= ~(uint64_t{1} << (page & 63));
    --resident_count_;
  }
  void clear_resident_bit(uint64_t page) {
    if (resident_.empty()) return;
    uint64_t& w = resident_[page >> 6];
    const uint64_t b = uint64_t{1} << (page & 63);
    if (!(w & b)) return;
    w &= ~b;
    --resident_count_;
    --touched_;
  }
  // Forgets the page's stored token (its content becomes zero or resident).
  void drop_stored(uint64_t page) {
    uint64_t* chunk = chunks_[page >> kChunkShift];
    const uint64_t i = page & (kChunkPages - 1);
    if (chunk && ((present_word(chunk, i) >> (i & 63)) & 1) != 0) {
      chunk[i] = 0;
      present_word(chunk, i) &= ~(uint64_t{1} << (i & 63));
      forget_pristine(chunk, i);
      --touched_;
    }
  }

  // The page's token is about to become non-zero (its chunk exists).
  void mark_present(uint64_t page) {
    const uint64_t i = page & (kChunkPages - 1);
    present_word(chunks_[page >> kChunkShift], i) |= uint64_t{1} << (i & 63);
    ++touched_;
  }
  static uint64_t& present_word(uint64_t* chunk, uint64_t i) {
    return chunk[kChunkPages + (i >> 6)];
  }
  // The pristine bits' word of page `i` of a dense chunk.
  static uint64_t& pristine_word(uint64_t* chunk, uint64_t i) {
    return chunk[kChunkPages + kPresentWords + (i >> 6)];
  }
  static const uint64_t& pristine_word(const uint64_t* chunk, uint64_t i) {
    return chunk[kChunkPages + kPresentWords + (i >> 6)];
  }
  static bool is_pristine(const uint64_t* chunk, uint64_t i) {
    return ((pristine_word(chunk, i) >> (i & 63)) & 1) != 0;
  }
  static void forget_pristine(uint64_t* chunk, uint64_t i) {
    pristine_word(chunk, i) &= ~(uint64_t{1} << (i & 63));
  }
  // The token of `page` in its dense chunk (a pristine page's slot is 0).
  uint64_t dense_token(const uint64_t* chunk, uint64_t page) const {
    const uint64_t i = page & (kChunkPages - 1);
    return is_pristine(chunk, i) ? resident_token(page) : chunk[i];
  }
  // The pages of bit word `wi` known to hold their resident content: bits
  // where the chunk is not dense, a dense chunk's pristine bits.
  uint64_t resident_view(uint64_t wi) const {
    if (uint64_t* chunk = chunks_[wi / kPresentWords])
      return pristine_word(chunk, (wi % kPresentWords) * 64);
    return resident_word(wi);  // never stored sparse as well (write_sparse takes the bit)
  }
  // Pages of bit word `wi` become resident bits (their chunk stores no
  // tokens for them).
  void add_resident_bits(uint64_t wi, uint64_t mask) {
    if (resident_.empty()) resident_.assign((pages_ + 63) / 64, 0);
    const uint64_t added = popcount64(mask & ~resident_[wi]);
    resident_[wi] |= mask;
    resident_count_ += added;
    touched_ += added;
  }

  uint64_t size_bytes_ = 0;
  uint32_t page_size_ = 0;
  uint64_t pages_ = 0;
  uint64_t touched_ = 0;
  uint64_t writes_ = 0;
  bool tracking_ = false;
  bool salted_ = false;
  uint64_t salt_ = 0;
  uint64_t resident_count_ = 0;
  std::vector<uint64_t> resident_;  // one bit per page holding its resident token
  std::vector<uint64_t*> chunks_;   // into arena_; null: the chunk is sparse_, resident_ bits
  std::vector<std::unique_ptr<SparseChunk>> sparse_;  // per chunk without dense storage
  std::vector<uint64_t> merged_;                      // set_sparse_run()'s scratch
  Queued queue_[kLag] = {};  // writes not applied yet, oldest at queue_head_ - queued_
  unsigned queue_head_ = 0, queued_ = 0;
  ChunkArena arena_;
  DirtyBitmap dirty_;
};

}  // namespace mdevsim::models
