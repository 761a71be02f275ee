#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {
namespace {

TEST(PageStore, UnwrittenPagesReadAsZeroAndCostNothing) {
  PageStore vram(uint64_t{64} << 30, 4096);  // 64 GiB
  EXPECT_EQ(vram.page_count(), uint64_t{16} << 20);
  EXPECT_EQ(vram.token(12345), 0u);
  EXPECT_EQ(vram.touched_pages(), 0u);
  // Only the chunk directory and the dirty bitmap exist: ~2 MiB + 32 KiB.
  EXPECT_LT(vram.memory_bytes(), uint64_t{3} << 20);
}

TEST(PageStore, WritesChangeContentAndMarkDirtyOnlyWhileTracking) {
  PageStore m(1 << 20, 4096);
  m.write(3, 42);
  EXPECT_NE(m.token(3), 0u);
  EXPECT_EQ(m.dirty().count(), 0u);
  m.start_tracking();
  const uint64_t before = m.token(7);
  m.write(7, 42);
  m.write(7, 43);
  EXPECT_NE(m.token(7), before);
  EXPECT_EQ(m.dirty().count(), 1u);
  EXPECT_TRUE(m.dirty().test(7));
  EXPECT_EQ(m.touched_pages(), 2u);
  EXPECT_EQ(m.dirty().collect_and_clear(), (std::vector<uint64_t>{7}));
  EXPECT_EQ(m.dirty().count(), 0u);
}

TEST(PageStore, SameWritesGiveSameContentDifferentWritesDiffer) {
  PageStore a(1 << 20, 4096), b(1 << 20, 4096);
  for (uint64_t i = 0; i < 100; ++i) {
    a.write(i % 17, i);
    b.write(i % 17, i);
  }
  EXPECT_EQ(a.content_hash(), b.content_hash());
  b.write(5, 1);
  EXPECT_NE(a.content_hash(), b.content_hash());
}

TEST(PageStore, PayloadRoundTripsAndDetectsAnyFlippedByte) {
  PageStore m(1 << 20, 4096);
  m.write(9, 1234);
  std::vector<uint8_t> page(4096);
  PageStore::fill_payload(9, m.token(9), page);
  uint64_t tok = 0;
  ASSERT_TRUE(PageStore::token_from_payload(9, page, tok));
  EXPECT_EQ(tok, m.token(9));
  EXPECT_FALSE(PageStore::token_from_payload(10, page, tok)) << "payload names its page";
  for (size_t at : {size_t{0}, size_t{8}, size_t{100}, size_t{4095}}) {
    auto bad = page;
    bad[at] ^= 0x10;
    uint64_t t2 = 0;
    // Flipping word 0 changes the token: the rest of the page no longer matches it.
    EXPECT_FALSE(PageStore::token_from_payload(9, bad, t2)) << "flip at byte " << at;
  }
}

// Chunks come from blocks of up to 2 MiB; a small memory gets a small block.
TEST(PageStore, SmallMemoryDoesNotReserveAFullBlock) {
  PageStore small(uint64_t{64} << 20, 64 * 1024);  // 1024 pages: one chunk
  small.write(3, 1);
  EXPECT_LT(small.memory_bytes(), uint64_t{64} << 10);
  PageStore big(uint64_t{16} << 30, 4096);  // 4 Mi pages: 1024 chunks
  for (uint64_t p = 0; p < big.page_count(); p += PageStore::kChunkPages) big.write(p, 1);
  // Every chunk exists, blocks of 2 MiB hold 63 of them: 17 blocks.
  EXPECT_EQ(big.touched_pages(), 1024u);
  EXPECT_LE(big.memory_bytes(), (uint64_t{17} << 21) + (uint64_t{1} << 20));
}

// for_each_touched walks per-chunk presence bits: it must list exactly the
// pages whose token is non-zero, ascending, through writes, restores of
// zero and non-zero tokens, and clear().
TEST(PageStore, TouchedPagesAreExactlyTheNonZeroTokensAscending) {
  PageStore m(uint64_t{64} << 20, 4096);  // 16384 pages: 4 chunks
  Rng rng(7);
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20000; ++i) {
      const uint64_t page = rng.next() % m.page_count();
      switch (rng.next() % 4) {
        case 0:
          m.set_token(page, 0);
          break;
        case 1:
          m.set_token(page, rng.next() | 1);
          break;
        case 2:
          m.write_untracked(page, rng.next());
          break;
        default:
          m.write(page, rng.next());
          break;
      }
    }
    std::vector<std::pair<uint64_t, uint64_t>> expected, listed;
    for (uint64_t p = 0; p < m.page_count(); ++p)
      if (m.token(p) != 0) expected.emplace_back(p, m.token(p));
    m.for_each_touched([&](uint64_t p, uint64_t t) { listed.emplace_back(p, t); });
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(listed, expected) << "round " << round;
    EXPECT_EQ(m.touched_pages(), expected.size());
    m.clear();
    EXPECT_EQ(m.touched_pages(), 0u);
    m.for_each_touched(
        [](uint64_t p, uint64_t) { ADD_FAILURE() << "page " << p << " after clear"; });
    EXPECT_EQ(m.token(5), 0u);
  }
}

}  // namespace
}  // namespace mdevsim::models
