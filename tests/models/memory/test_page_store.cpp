#include <bit>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/memory/page_payload.h"
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

// Writes are applied a few writes late (their cache misses overlap); no
// reader may see that: tracking switched between writes, untracked writes
// and restores in between, every read right after a write.
TEST(PageStore, QueuedWritesAreInvisible) {
  PageStore m(1 << 24, 4096), ref(1 << 24, 4096);  // 4096 pages
  for (uint64_t p = 0; p < 40; ++p) {
    if (p == 10) m.start_tracking();
    if (p == 20) m.stop_tracking();
    m.write(p, p + 1);
    ref.write_untracked(p, p + 1);
  }
  for (uint64_t p = 0; p < 40; ++p) EXPECT_EQ(m.dirty().test(p), p >= 10 && p < 20) << p;
  EXPECT_EQ(m.writes(), 40u);
  for (uint64_t k = 0; k < 100; ++k) {
    m.write(k % 7, k);
    ref.write_untracked(k % 7, k);
    if (k % 5 == 0) {
      m.write_untracked(k % 3, k);
      ref.write_untracked(k % 3, k);
    }
    if (k % 11 == 0) {
      m.set_token(k % 7, k + 1);
      ref.set_token(k % 7, k + 1);
    }
    ASSERT_EQ(m.token(k % 7), ref.token(k % 7)) << k;
  }
  for (uint64_t p = 0; p < 7; ++p) EXPECT_EQ(m.token(p), ref.token(p)) << p;
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
  page_payload::fill(9, m.token(9), page);
  uint64_t tok = 0;
  ASSERT_TRUE(page_payload::token_from(9, page, tok));
  EXPECT_EQ(tok, m.token(9));
  EXPECT_FALSE(page_payload::token_from(10, page, tok)) << "payload names its page";
  for (size_t at : {size_t{0}, size_t{8}, size_t{100}, size_t{4095}}) {
    auto bad = page;
    bad[at] ^= 0x10;
    uint64_t t2 = 0;
    // Flipping word 0 changes the token: the rest of the page no longer matches it.
    EXPECT_FALSE(page_payload::token_from(9, bad, t2)) << "flip at byte " << at;
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

// ---- resident content

TEST(PageStore, ATebibyteFullyResidentCostsBitsNotTokens) {
  PageStore ram(uint64_t{1} << 40, 4096);  // 268 M pages: 2 GiB of tokens if materialised
  ram.set_content_salt(77);
  ram.make_resident(0, ram.page_count());
  EXPECT_EQ(ram.touched_pages(), ram.page_count());
  EXPECT_EQ(ram.resident_pages(), ram.page_count());
  for (uint64_t p : {uint64_t{0}, uint64_t{12345}, ram.page_count() - 1}) {
    EXPECT_NE(ram.token(p), 0u) << p;
    EXPECT_EQ(ram.token(p), ram.resident_token(p)) << p;
  }
  EXPECT_NE(ram.token(1), ram.token(2)) << "every page has its own content";
  // Chunk directory 512 KiB + dirty bitmap 32 MiB + resident bitmap 32 MiB.
  EXPECT_LT(ram.memory_bytes(), uint64_t{70} << 20);
}

TEST(PageStore, ResidentContentIsSeededAndOnlyInItsRange) {
  PageStore a(64 << 20, 4096), b(64 << 20, 4096), c(64 << 20, 4096);
  a.set_content_salt(1);
  b.set_content_salt(1);
  c.set_content_salt(2);
  a.make_resident(100, 1000);
  b.make_resident(100, 1000);
  c.make_resident(100, 1000);
  EXPECT_EQ(a.content_hash(), b.content_hash());
  EXPECT_NE(a.content_hash(), c.content_hash()) << "another seed, other content";
  EXPECT_EQ(a.token(99), 0u);
  EXPECT_NE(a.token(100), 0u);
  EXPECT_NE(a.token(1099), 0u);
  EXPECT_EQ(a.token(1100), 0u);
  EXPECT_EQ(a.touched_pages(), 1000u);
  EXPECT_EQ(a.memory_bytes() - PageStore(64 << 20, 4096).memory_bytes(),
            (a.page_count() + 63) / 64 * 8)
      << "no chunk allocated: the resident range is one bit per page";
}

TEST(PageStore, AWriteToAResidentPageFoldsIntoItsResidentContent) {
  PageStore a(1 << 26, 4096), ref(1 << 26, 4096);  // 16384 pages: 4 chunks
  a.set_content_salt(5);
  a.make_resident(0, a.page_count());
  a.start_tracking();
  const uint64_t before = a.token(42);
  ref.set_token(42, before);  // the same content, stored as a token
  a.write(42, 7);
  ref.write(42, 7);
  EXPECT_EQ(a.token(42), ref.token(42)) << "a resident page is written like any other";
  EXPECT_NE(a.token(42), before);
  EXPECT_EQ(a.touched_pages(), a.page_count()) << "the page was already counted";
  EXPECT_EQ(a.resident_pages(), a.page_count() - 1)
      << "only the written page holds a token of its own; the rest of its chunk stays bits";
  EXPECT_EQ(a.token(41), a.resident_token(41)) << "its neighbours kept their content";
  EXPECT_EQ(a.dirty().count(), 1u);
  EXPECT_TRUE(a.dirty().test(42));
  EXPECT_EQ(a.writes(), 1u);
  a.write_untracked(43, 1);
  EXPECT_EQ(a.dirty().count(), 1u) << "untracked writes stay untracked";
  EXPECT_NE(a.token(43), a.resident_token(43));
}

TEST(PageStore, ResidentPagesArriveAsBitsAndCompareEqual) {
  PageStore src(uint64_t{4} << 30, 4096), dst(uint64_t{4} << 30, 4096),
      plain(uint64_t{4} << 30, 4096);
  src.set_content_salt(9);
  dst.set_content_salt(9);
  src.make_resident(0, src.page_count());
  for (uint64_t p = 0; p < 300; ++p) src.write(p * 7, p);
  const uint64_t empty_bytes = dst.memory_bytes();
  uint64_t stored = 0;
  src.for_each_touched([&](uint64_t p, uint64_t t) {
    dst.set_token(p, t);
    plain.set_token(p, t);
    stored += t != src.resident_token(p);
  });
  EXPECT_EQ(stored, 300u);
  EXPECT_EQ(dst.content_hash(), src.content_hash());
  EXPECT_EQ(plain.content_hash(), src.content_hash()) << "resident bits hash like stored tokens";
  EXPECT_EQ(dst.touched_pages(), src.touched_pages());
  EXPECT_EQ(dst.resident_pages(), dst.page_count() - 300)
      << "the arriving resident pages stay bits, the 300 written ones are tokens";
  // Only the chunks of the 300 written pages exist at the destination.
  EXPECT_LT(dst.memory_bytes() - empty_bytes, uint64_t{3} << 20);
  EXPECT_GT(plain.memory_bytes(), uint64_t{8} << 20) << "the unsalted store had to store tokens";
}

TEST(PageStore, ResidentAndStoredPagesWalkInOrderAndClearToZero) {
  PageStore m(1 << 24, 4096);  // 4096 pages: one chunk
  m.set_content_salt(3);
  m.write(10, 1);
  m.write(2000, 2);
  m.make_resident(5, 10);  // covers page 10: resident content replaces it
  m.make_resident(4000, 96);
  m.set_token(4001, 0);  // a resident page zeroed
  m.set_token(4002, 99);
  std::vector<uint64_t> pages;
  m.for_each_touched([&](uint64_t p, uint64_t t) {
    pages.push_back(p);
    EXPECT_EQ(t, m.token(p));
    EXPECT_NE(t, 0u);
  });
  std::vector<uint64_t> expected;
  for (uint64_t p = 5; p < 15; ++p) expected.push_back(p);
  expected.push_back(2000);
  for (uint64_t p = 4000; p < 4096; ++p)
    if (p != 4001) expected.push_back(p);
  EXPECT_EQ(pages, expected);
  EXPECT_EQ(m.touched_pages(), expected.size());
  EXPECT_EQ(m.token(10), m.resident_token(10));
  EXPECT_EQ(m.token(4002), 99u);
  EXPECT_EQ(m.token(4001), 0u);
  m.clear();
  EXPECT_EQ(m.touched_pages(), 0u);
  EXPECT_EQ(m.token(7), 0u);
}

TEST(PageStore, MakeResidentNeedsASaltAndARangeInside) {
  PageStore m(1 << 20, 4096);
  EXPECT_THROW(m.make_resident(0, 1), std::logic_error);
  m.set_content_salt(1);
  EXPECT_THROW(m.make_resident(200, 100), std::invalid_argument);
  EXPECT_NO_THROW(m.make_resident(200, 56));
  EXPECT_EQ(m.touched_pages(), 56u);
}

// A chunk keeps its first written pages sparse and becomes dense after
// kSparseMaxPages of them or kSparseMaxWrites writes; content, touched pages and their order are
// the same either way (checked against a plain token array).
TEST(PageStore, SparseChunksBecomeDenseWithTheSameContent) {
  PageStore m(uint64_t{64} << 20, 4096);  // 16384 pages: 4 chunks
  m.set_content_salt(3);
  m.make_resident(1000, 9000);
  std::vector<uint64_t> expected(m.page_count(), 0);
  for (uint64_t p = 1000; p < 10000; ++p) expected[p] = m.resident_token(p);
  Rng rng(11);
  const auto check = [&](const char* when) {
    std::vector<std::pair<uint64_t, uint64_t>> want, listed;
    for (uint64_t p = 0; p < m.page_count(); ++p) {
      ASSERT_EQ(m.token(p), expected[p]) << when << ": page " << p;
      if (expected[p] != 0) want.emplace_back(p, expected[p]);
    }
    m.for_each_touched([&](uint64_t p, uint64_t t) { listed.emplace_back(p, t); });
    EXPECT_EQ(listed, want) << when;
    EXPECT_EQ(m.touched_pages(), want.size()) << when;
    m.dirty().set(7);  // not touched: cleared by the marking
    m.mark_touched_dirty();
    EXPECT_EQ(m.dirty().count(), want.size()) << when;
    for (const auto& [p, t] : want) EXPECT_TRUE(m.dirty().test(p)) << when << ": page " << p;
  };
  // Chunk 0 (pages 0..4095, partly resident) gets 200 writes: still sparse.
  for (int k = 0; k < 200; ++k) {
    const uint64_t p = rng.next() % PageStore::kChunkPages, v = rng.next();
    m.write(p, v);
    PageStore one(4096 * 2, 4096);  // the fold on a token, as a dense store does it
    one.set_token(0, expected[p]);
    one.write(0, v);
    expected[p] = one.token(0);
  }
  check("sparse");
  const uint64_t sparse_bytes = m.memory_bytes();
  // Restores of zero, resident and other content, then enough writes to
  // make chunk 0 dense.
  for (uint64_t p : {uint64_t{5}, uint64_t{1500}, uint64_t{1501}}) {
    const uint64_t t = p == 5 ? 0 : p == 1500 ? m.resident_token(p) : 77;
    m.set_token(p, t);
    expected[p] = t;
  }
  check("restored");
  for (uint64_t p = 0; p < PageStore::kChunkPages; p += 2) {
    m.write(p, p);
    PageStore one(4096 * 2, 4096);
    one.set_token(0, expected[p]);
    one.write(0, p);
    expected[p] = one.token(0);
  }
  check("dense");
  EXPECT_GT(m.memory_bytes(), sparse_bytes + PageStore::kChunkPages * 8 / 2)
      << "chunk 0 has dense storage now";
  EXPECT_EQ(m.writes(), 200u + PageStore::kChunkPages / 2);
}

// Thin writes everywhere over a resident memory (uniform guest writes while
// a large VM migrates) cost about their tokens, not whole chunks.
TEST(PageStore, ThinWritesOverResidentMemoryCostTheirTokens) {
  PageStore ram(uint64_t{16} << 30, 4096);  // 4 Mi pages, 1024 chunks
  ram.set_content_salt(1);
  ram.make_resident(0, ram.page_count());
  const uint64_t before = ram.memory_bytes();
  Rng rng(5);
  for (int k = 0; k < 100000; ++k) ram.write(rng.next() % ram.page_count(), 1);
  // 100 000 tokens (800 KB, vectors at most double) and 1024 × 640 bytes of
  // per-chunk bits; a dense chunk per written chunk would be 32 MiB.
  EXPECT_LT(ram.memory_bytes() - before, uint64_t{3} << 20);
  EXPECT_EQ(ram.touched_pages(), ram.page_count());
}

// ---- 64 pages at a time, checked against page-by-page references.

// Bits set, counted one at a time.
unsigned naive_popcount(uint64_t x) {
  unsigned n = 0;
  for (int i = 0; i < 64; ++i) n += (x >> i) & 1;
  return n;
}

TEST(PageStore, InlinePopcountCountsEveryBit) {
  Rng rng(11);
  for (uint64_t x :
       {uint64_t{0}, ~uint64_t{0}, uint64_t{1}, uint64_t{1} << 63, uint64_t{0x8000000000000001ULL}})
    EXPECT_EQ(popcount64(x), naive_popcount(x)) << x;
  for (int k = 0; k < 10000; ++k) {
    const uint64_t x = rng.next() & rng.next();  // denser and sparser words
    EXPECT_EQ(popcount64(x), naive_popcount(x)) << x;
  }
}

// A store with every representation in it: a chunk made dense by many
// writes, sparse chunks, resident bits (with `salt`, in part), set tokens,
// zeroed pages, and a tail word that is not full. `seed` picks the pages.
constexpr uint64_t kMixedPages = 3 * PageStore::kChunkPages + 100;
void fill_mixed(PageStore& m, uint64_t salt, uint64_t seed) {
  Rng rng(seed);
  m.set_content_salt(salt);
  m.make_resident(PageStore::kChunkPages / 2, 2 * PageStore::kChunkPages);        // chunks 0..2
  for (int k = 0; k < 600; ++k) m.write(rng.next() % PageStore::kChunkPages, k);  // dense
  for (int k = 0; k < 50; ++k)
    m.write(PageStore::kChunkPages + rng.next() % PageStore::kChunkPages, k);  // sparse
  for (int k = 0; k < 40; ++k) {
    const uint64_t p = rng.next() % kMixedPages;
    switch (k % 4) {
      case 0:
        m.set_token(p, rng.next() | 1);
        break;
      case 1:
        m.set_token(p, 0);
        break;
      case 2:
        m.set_token(p, m.resident_token(p));
        break;
      default:
        m.write_untracked(p, k);
        break;
    }
  }
  m.write(kMixedPages - 1, 7);  // the tail word
}

std::vector<uint64_t> naive_differences(const PageStore& a, const PageStore& b) {
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < a.page_count(); ++p)
    if (a.token(p) != b.token(p)) out.push_back(p);
  return out;
}

std::vector<uint64_t> word_differences(const PageStore& a, const PageStore& b) {
  std::vector<uint64_t> out;
  PageStore::for_each_difference(a, b, [&](uint64_t p, uint64_t ta, uint64_t tb) {
    EXPECT_EQ(ta, a.token(p)) << p;
    EXPECT_EQ(tb, b.token(p)) << p;
    out.push_back(p);
  });
  return out;
}

TEST(PageStore, WordTokensAndNonZeroWordsAreThePagesTokens) {
  PageStore m(kMixedPages * 4096, 4096);
  fill_mixed(m, 3, 1);
  Rng rng(2);
  for (uint64_t wi = 0; wi < (kMixedPages + 63) / 64; ++wi) {
    uint64_t expect_nonzero = 0;
    for (uint64_t i = 0; i < 64 && wi * 64 + i < kMixedPages; ++i)
      if (m.token(wi * 64 + i) != 0) expect_nonzero |= uint64_t{1} << i;
    ASSERT_EQ(m.nonzero_word(wi), expect_nonzero) << wi;
    const uint64_t valid =
        wi * 64 + 64 <= kMixedPages ? ~uint64_t{0} : (uint64_t{1} << (kMixedPages % 64)) - 1;
    for (uint64_t mask : {valid, rng.next() & valid, expect_nonzero}) {
      uint64_t out[64];
      for (auto& x : out) x = 0xdeadbeef;
      m.word_tokens(wi, mask, out);
      for (unsigned i = 0; i < 64; ++i)
        EXPECT_EQ(out[i], (mask >> i) & 1 ? m.token(wi * 64 + i) : 0xdeadbeef) << wi << " " << i;
    }
  }
}

TEST(PageStore, WordWiseDifferenceFindsExactlyThePagesThatDiffer) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    // Same salt, same history plus a few changes on one side; or another salt.
    const uint64_t salt_b = seed % 3 == 0 ? 99 : 3;
    PageStore a(kMixedPages * 4096, 4096), b(kMixedPages * 4096, 4096);
    fill_mixed(a, 3, seed);
    fill_mixed(b, salt_b, seed);
    Rng rng(seed * 7);
    for (uint64_t k = 0; k < seed * 3; ++k) {
      const uint64_t p = rng.next() % kMixedPages;
      if (k % 3 == 0) b.write_untracked(p, k);
      if (k % 3 == 1) a.set_token(p, 0);
      if (k % 3 == 2) b.set_token(p, b.resident_token(p));
    }
    if (seed % 4 == 1) fill_mixed(b, salt_b, seed + 100);  // much more differs
    const auto expect = naive_differences(a, b);
    EXPECT_EQ(word_differences(a, b), expect) << "seed " << seed;
    auto reversed = naive_differences(b, a);
    EXPECT_EQ(word_differences(b, a), reversed) << "seed " << seed;
    if (salt_b == 3 && seed % 4 != 1) {
      EXPECT_LT(expect.size(), 200u) << "mostly equal stores";
    }
  }
  // Equal stores, and a store against an empty one.
  PageStore a(kMixedPages * 4096, 4096), b(kMixedPages * 4096, 4096),
      empty(kMixedPages * 4096, 4096);
  fill_mixed(a, 3, 5);
  fill_mixed(b, 3, 5);
  EXPECT_TRUE(word_differences(a, b).empty());
  EXPECT_EQ(word_differences(a, empty), naive_differences(a, empty));
  EXPECT_EQ(word_differences(empty, a).size(), a.touched_pages());
}

TEST(PageStore, BulkSetTokensIsSetTokenPageByPage) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    PageStore src(kMixedPages * 4096, 4096), bulk(kMixedPages * 4096, 4096),
        each(kMixedPages * 4096, 4096);
    fill_mixed(src, 3, seed);
    for (PageStore* d : {&bulk, &each}) {
      d->set_content_salt(3);
      if (seed % 2 == 0) d->make_resident(0, PageStore::kChunkPages);  // else no resident bits yet
      d->write(5, 1);
    }
    // The source's pages in order, some twice, some zero.
    std::vector<std::pair<uint64_t, uint64_t>> pairs;
    Rng rng(seed);
    for (uint64_t p = 0; p < kMixedPages; p += 1 + rng.next() % 3)
      pairs.emplace_back(p, src.token(p));
    pairs.emplace_back(5, 0);
    pairs.emplace_back(7, src.resident_token(7));
    bulk.set_tokens(pairs);
    for (const auto& [p, t] : pairs) each.set_token(p, t);
    EXPECT_TRUE(naive_differences(bulk, each).empty()) << seed;
    EXPECT_EQ(bulk.touched_pages(), each.touched_pages());
    EXPECT_EQ(bulk.resident_pages(), each.resident_pages());
    EXPECT_EQ(bulk.content_hash(), each.content_hash());
  }
}

// resident_bits() may only name pages that hold their resident content, and
// must name those of a dense chunk not changed since it became dense (its
// pristine bits) as well as resident bits; set_resident_bits() is
// set_token(p, resident_token(p)) page by page.
TEST(PageStore, ResidentBitsNameOnlyResidentContentAndHandOverAsSetToken) {
  const uint64_t words = (kMixedPages + 63) / 64;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    PageStore src(kMixedPages * 4096, 4096);
    fill_mixed(src, 3, seed);
    uint64_t in_dense_chunk = 0;
    std::vector<uint64_t> bits(words);
    for (uint64_t wi = 0; wi < words; ++wi) {
      bits[wi] = src.resident_bits(wi, ~uint64_t{0});
      for (uint64_t b = bits[wi]; b != 0; b &= b - 1) {
        const uint64_t p = wi * 64 + static_cast<uint64_t>(std::countr_zero(b));
        ASSERT_LT(p, kMixedPages);
        ASSERT_EQ(src.token(p), src.resident_token(p)) << "page " << p << " seed " << seed;
        in_dense_chunk += p < PageStore::kChunkPages;
      }
    }
    // Chunk 0 went dense with 2048 resident pages; at most 640 writes and
    // sets touched it since.
    EXPECT_GE(in_dense_chunk, 2048u - 640u) << seed;
    const uint64_t p = PageStore::kChunkPages - 1;  // resident, in the dense chunk
    if ((bits[p / 64] >> (p % 64)) & 1) {
      src.write(p, 1);
      EXPECT_FALSE((src.resident_bits(p / 64, ~uint64_t{0}) >> (p % 64)) & 1)
          << "a write clears it";
    }

    PageStore bulk(kMixedPages * 4096, 4096), each(kMixedPages * 4096, 4096);
    for (PageStore* d : {&bulk, &each}) {
      d->set_content_salt(3);
      if (seed % 2 == 0) d->make_resident(0, PageStore::kChunkPages);
      for (uint64_t k = 0; k < 700; ++k) d->write((k * 37) % PageStore::kChunkPages, k);  // dense
      d->write(PageStore::kChunkPages + 9, 1);                                            // sparse
    }
    EXPECT_TRUE(bulk.same_resident_content(src));
    for (uint64_t wi = 0; wi < words; ++wi) {
      bulk.set_resident_bits(wi, bits[wi]);
      for (uint64_t b = bits[wi]; b != 0; b &= b - 1) {
        const uint64_t q = wi * 64 + static_cast<uint64_t>(std::countr_zero(b));
        each.set_token(q, each.resident_token(q));
      }
    }
    EXPECT_TRUE(naive_differences(bulk, each).empty()) << seed;
    EXPECT_EQ(bulk.touched_pages(), each.touched_pages());
    EXPECT_EQ(bulk.resident_pages(), each.resident_pages());
    EXPECT_EQ(bulk.content_hash(), each.content_hash());
    // What arrived as bits is named again at the destination, dense chunk included.
    for (uint64_t wi = 0; wi < words; ++wi)
      ASSERT_EQ(bulk.resident_bits(wi, bits[wi]), bits[wi]) << wi;
  }
  PageStore other(kMixedPages * 4096, 4096), unsalted(kMixedPages * 4096, 4096);
  other.set_content_salt(4);
  PageStore same(kMixedPages * 4096, 4096);
  same.set_content_salt(4);
  EXPECT_FALSE(other.same_resident_content(unsalted));
  EXPECT_TRUE(other.same_resident_content(same));
  EXPECT_THROW(unsalted.set_resident_bits(0, 1), std::logic_error);
}

// Runs of ascending pages in one sparse chunk (a slice's dirty pages) are
// merged into it at once: the same content, counts and walk as page by page.
TEST(PageStore, MergedSparseRunsAreSetTokenPageByPage) {
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    PageStore bulk(kMixedPages * 4096, 4096), each(kMixedPages * 4096, 4096);
    Rng rng(seed);
    for (PageStore* d : {&bulk, &each}) {
      fill_mixed(*d, 3, seed);  // chunk 0 dense, chunks 1-3 sparse with resident bits
      for (uint64_t k = 0; k < 300; ++k) d->set_token(PageStore::kChunkPages + k * 13, k + 1);
    }
    std::vector<std::pair<uint64_t, uint64_t>> pairs;
    for (int run = 0; run < 40; ++run) {
      uint64_t p = rng.next() % kMixedPages;
      const uint64_t len = 1 + rng.next() % 24;
      for (uint64_t i = 0; i < len && p < kMixedPages; ++i, p += 1 + rng.next() % 9) {
        const uint64_t kind = rng.next() % 5;
        const uint64_t tok = kind == 0   ? 0
                             : kind == 1 ? bulk.resident_token(p)
                             : kind == 2 ? bulk.token(p)
                                         : rng.next() | 1;
        pairs.emplace_back(p, tok);
      }
    }
    bulk.set_tokens(pairs);
    for (const auto& [p, t] : pairs) each.set_token(p, t);
    EXPECT_TRUE(naive_differences(bulk, each).empty()) << seed;
    EXPECT_EQ(bulk.touched_pages(), each.touched_pages()) << seed;
    EXPECT_EQ(bulk.resident_pages(), each.resident_pages()) << seed;
    std::vector<std::pair<uint64_t, uint64_t>> walked_bulk, walked_each;
    bulk.for_each_touched([&](uint64_t p, uint64_t t) { walked_bulk.emplace_back(p, t); });
    each.for_each_touched([&](uint64_t p, uint64_t t) { walked_each.emplace_back(p, t); });
    EXPECT_EQ(walked_bulk, walked_each) << seed;
    for (uint64_t wi = 0; wi < (kMixedPages + 63) / 64; ++wi)
      ASSERT_EQ(bulk.nonzero_word(wi), each.nonzero_word(wi)) << wi;
  }
}

}  // namespace
}  // namespace mdevsim::models
