// Zeroed, page-aligned storage for PageStore's dense chunks
// (models/memory/page_store.h), straight from the kernel.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

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

}  // namespace mdevsim::models
