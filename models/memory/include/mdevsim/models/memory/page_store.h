// Sparse page-granular memory used for VRAM and for guest RAM.
//
// A page is represented by a 64-bit content token instead of its bytes: every
// write folds a value into the token, so two memories hold equal content
// exactly when their tokens are equal. The page's byte payload (what goes over
// a migration stream) is derived from the token deterministically and maps
// back to it. Storage is allocated in chunks as pages are first touched, so a
// 64 GiB memory with 1 GiB in use costs a few MiB, not 64 GiB.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <vector>

#include "mdevsim/models/memory/dirty_bitmap.h"
#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

// Zeroed chunks of `words` 64-bit words, carved from blocks mapped straight
// from the kernel: fresh mappings are already zero (no memset), and full-size
// blocks are 2 MiB-aligned and offered to transparent huge pages, so a memory
// touched everywhere (cold guest RAM writes) costs a few dozen page faults
// instead of one per 4 KiB. Chunks live until release_all().
class ChunkArena {
 public:
  static constexpr size_t kBlockBytes = size_t{2} << 20;

  // `max_chunks`: how many chunks the owner can ever ask for (small stores
  // get one small block instead of 2 MiB).
  void configure(size_t words, size_t max_chunks) {
    release_all();
    chunk_bytes_ = words * sizeof(uint64_t);
    const size_t page = 4096;
    block_bytes_ = std::min(kBlockBytes, (chunk_bytes_ * max_chunks + page - 1) / page * page);
  }

  uint64_t* allocate() {
    if (blocks_.empty() || used_ + chunk_bytes_ > blocks_.back().len) {
      blocks_.push_back(map_block(block_bytes_));
      used_ = 0;
    }
    auto* chunk = reinterpret_cast<uint64_t*>(static_cast<char*>(blocks_.back().addr) + used_);
    used_ += chunk_bytes_;
    return chunk;
  }

  void release_all() {
    for (const auto& b : blocks_) ::munmap(b.addr, b.len);
    blocks_.clear();
    used_ = 0;
  }

  uint64_t bytes() const {
    uint64_t n = 0;
    for (const auto& b : blocks_) n += b.len;
    return n;
  }

  ChunkArena() = default;
  ChunkArena(const ChunkArena&) = delete;
  ChunkArena& operator=(const ChunkArena&) = delete;
  ~ChunkArena() { release_all(); }

 private:
  struct Block {
    void* addr;
    size_t len;
  };

  static Block map_block(size_t len) {
    if (len < kBlockBytes) return {map(len), len};
    // Over-map and trim to a 2 MiB boundary: huge pages need aligned ranges.
    char* raw = static_cast<char*>(map(len + kBlockBytes));
    const auto at = reinterpret_cast<uintptr_t>(raw);
    char* aligned = raw + ((kBlockBytes - at % kBlockBytes) % kBlockBytes);
    const auto head = static_cast<size_t>(aligned - raw);
    if (head > 0) ::munmap(raw, head);
    ::munmap(aligned + len, kBlockBytes - head);  // head < 2 MiB: a tail always remains
#ifdef MADV_HUGEPAGE
    ::madvise(aligned, len, MADV_HUGEPAGE);  // a hint: fine if refused
#endif
    return {aligned, len};
  }

  static void* map(size_t len) {
    void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return p;
  }

  std::vector<Block> blocks_;
  size_t chunk_bytes_ = 0;
  size_t block_bytes_ = kBlockBytes;
  size_t used_ = 0;
};

class PageStore {
 public:
  static constexpr unsigned kChunkShift = 12;  // 4096 tokens (32 KiB) per chunk
  static constexpr uint64_t kChunkPages = uint64_t{1} << kChunkShift;
  // After its tokens, a chunk holds one bit per page that is set while the
  // token is non-zero: walking the touched pages reads 512 bytes per chunk,
  // not 32 KiB.
  static constexpr uint64_t kPresentWords = kChunkPages / 64;

  PageStore(uint64_t size_bytes, uint32_t page_size) { reset_geometry(size_bytes, page_size); }

  uint64_t size_bytes() const { return size_bytes_; }
  uint32_t page_size() const { return page_size_; }
  uint64_t page_count() const { return pages_; }
  uint64_t touched_pages() const { return touched_; }

  // Token 0 means "never written": the page reads as zeros.
  uint64_t token(uint64_t page) const {
    const uint64_t* chunk = chunks_[page >> kChunkShift];
    return chunk ? chunk[page & (kChunkPages - 1)] : 0;
  }

  // A write of `value` to the page: content changes, the page becomes dirty
  // if tracking is on. Hot path of every workload: keep it branch-light.
  void write(uint64_t page, uint64_t value) {
    uint64_t& t = slot(page);
    if (t == 0) [[unlikely]]
      mark_present(page);
    uint64_t next = mix64(t ^ value);
    t = next | (next == 0);  // a written page never returns to the zero token
    if (tracking_) dirty_.set(page);
    ++writes_;
  }

  // A write the dirty log does not see (device DMA into guest RAM: KVM's
  // dirty logging misses it, which is why VFIO reports DMA-dirty pages).
  void write_untracked(uint64_t page, uint64_t value) {
    uint64_t& t = slot(page);
    if (t == 0) [[unlikely]]
      mark_present(page);
    uint64_t next = mix64(t ^ value);
    t = next | (next == 0);
    ++writes_;
  }

  // Restore path: set content without counting a write or dirtying the page.
  void set_token(uint64_t page, uint64_t tok) {
    if (tok == 0) {
      uint64_t* chunk = chunks_[page >> kChunkShift];
      const uint64_t i = page & (kChunkPages - 1);
      if (chunk && chunk[i] != 0) {
        chunk[i] = 0;
        present_word(chunk, i) &= ~(uint64_t{1} << (i & 63));
        --touched_;
      }
      return;
    }
    uint64_t& t = slot(page);
    if (t == 0) mark_present(page);
    t = tok;
  }

  // Dirty tracking for migration passes.
  void start_tracking() { tracking_ = true; }
  void stop_tracking() { tracking_ = false; }
  bool tracking() const { return tracking_; }
  DirtyBitmap& dirty() { return dirty_; }
  const DirtyBitmap& dirty() const { return dirty_; }

  uint64_t writes() const { return writes_; }

  // Drops every page (all content becomes zero) and the dirty set.
  void clear() {
    for (auto& c : chunks_) c = nullptr;
    arena_.release_all();
    touched_ = 0;
    dirty_.clear_all();
  }

  // Calls fn(page, token) for every non-zero page, ascending.
  template <typename Fn>
  void for_each_touched(Fn&& fn) const {
    for (uint64_t ci = 0; ci < chunks_.size(); ++ci) {
      const uint64_t* chunk = chunks_[ci];
      if (!chunk) continue;
      for (uint64_t w = 0; w < kPresentWords; ++w) {
        for (uint64_t bits = chunk[kChunkPages + w]; bits != 0; bits &= bits - 1) {
          const uint64_t i = w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
          fn((ci << kChunkShift) + i, chunk[i]);
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

  // Bytes of memory this store holds (chunks + bitmap), for RSS accounting.
  uint64_t memory_bytes() const {
    return chunks_.size() * sizeof(chunks_[0]) + dirty_.words().size() * 8 + arena_.bytes();
  }

  // The page's bytes: word 0 is the token, word 1 the page index, word i
  // (i >= 2) a simple keyed sequence. Any changed byte breaks the sequence,
  // so a payload maps back to its token or is detected as corrupt; the
  // sequence is cheap because every migrated page is expanded and checked.
  // Zero token -> all-zero page. `out` must be page_size bytes.
  static void fill_payload(uint64_t page, uint64_t tok, std::span<uint8_t> out) {
    if (tok == 0) {
      std::memset(out.data(), 0, out.size());
      return;
    }
    const size_t words = out.size() / 8;
    uint64_t w[2] = {tok, page};
    std::memcpy(out.data(), w, 16);
    uint64_t v = payload_seed(page, tok);
    for (size_t i = 2; i < words; ++i) {
      v += kPayloadStep;
      std::memcpy(out.data() + i * 8, &v, 8);
    }
  }

  // Inverse of fill_payload: returns false if `in` is not a payload that
  // fill_payload could have produced for `page` (corrupt data).
  static bool token_from_payload(uint64_t page, std::span<const uint8_t> in, uint64_t& tok) {
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
    uint64_t v = payload_seed(page, w[0]);
    uint64_t diff = 0;
    for (size_t i = 2; i < words; ++i) {
      v += kPayloadStep;
      uint64_t got;
      std::memcpy(&got, in.data() + i * 8, 8);
      diff |= got ^ v;
    }
    if (diff != 0) return false;
    tok = w[0];
    return true;
  }

 private:
  static constexpr uint64_t kPayloadStep = 0x9e3779b97f4a7c15ULL;
  static uint64_t payload_seed(uint64_t page, uint64_t tok) {
    return mix64(tok ^ (page * 0xd1b54a32d192ed03ULL));
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
    arena_.configure(kChunkPages + kPresentWords, chunks_.size());
    dirty_.resize(pages_);
    touched_ = 0;
  }

  uint64_t& slot(uint64_t page) {
    uint64_t*& chunk = chunks_[page >> kChunkShift];
    if (!chunk) chunk = arena_.allocate();  // zeroed
    return chunk[page & (kChunkPages - 1)];
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

  uint64_t size_bytes_ = 0;
  uint32_t page_size_ = 0;
  uint64_t pages_ = 0;
  uint64_t touched_ = 0;
  uint64_t writes_ = 0;
  bool tracking_ = false;
  std::vector<uint64_t*> chunks_;  // into arena_; null: every page of the chunk is zero
  ChunkArena arena_;
  DirtyBitmap dirty_;
};

}  // namespace mdevsim::models
