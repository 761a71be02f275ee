// The saving side of the generic stream (models/stream/src/paged_save_stream.cpp)
// for a device that is not a GPU: which records come out, in what order,
// with which bytes, and the pre-copy / stop-copy byte accounting.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "fake_streamed_device.h"
#include "mdevsim/models/memory/page_payload.h"
#include "mdevsim/models/stream/record_format.h"

namespace mdevsim::models::test {
namespace {

constexpr uint64_t kPageRecord = 16 + 8 + kFakePage;  // 4120
constexpr uint64_t kHeaderRecord = 16 + kFakeHeaderPayload;
constexpr uint64_t kStateRecord = 16 + 5;
constexpr uint64_t kEndRecord = 16 + 16;

struct Rec {
  uint32_t type;
  uint64_t offset;
  std::vector<uint8_t> payload;
};

std::vector<Rec> records(const std::vector<uint8_t>& b, uint64_t base = 0) {
  std::vector<Rec> out;
  for (size_t at = 0; at < b.size();) {
    uint32_t type, zero;
    uint64_t len;
    std::memcpy(&type, &b[at], 4);
    std::memcpy(&zero, &b[at + 4], 4);
    std::memcpy(&len, &b[at + 8], 8);
    EXPECT_EQ(zero, 0u);
    out.push_back({type, base + at, {b.begin() + at + 16, b.begin() + at + 16 + len}});
    at += 16 + len;
  }
  return out;
}

uint64_t u64_at(const std::vector<uint8_t>& p, size_t off) {
  uint64_t v;
  std::memcpy(&v, p.data() + off, 8);
  return v;
}

std::vector<uint8_t> page_record(uint64_t page, uint64_t token) {
  std::vector<uint8_t> p(8 + kFakePage);
  std::memcpy(p.data(), &page, 8);
  page_payload::fill(page, token, std::span<uint8_t>(p.data() + 8, kFakePage));
  return p;
}

TEST(PagedSaveStream, PreCopyThenStopCopyRecordsAndAccounting) {
  FakeDevice d;
  d.memory.write(5, 1);
  d.memory.write(2, 1);
  auto s = save(d);
  EXPECT_EQ(s->initial_bytes(), kHeaderRecord + 2 * kPageRecord);
  EXPECT_EQ(s->dirty_bytes(), 0u);
  EXPECT_EQ(s->stop_copy_bytes(), kHeaderRecord + 2 * kPageRecord + kStateRecord + kEndRecord);

  const auto pre = read_all(*s);
  ASSERT_EQ(pre.size(), kHeaderRecord + 2 * kPageRecord) << "nothing more before the stop";
  const auto r = records(pre);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].type, record::kHeader);
  EXPECT_EQ(r[0].payload, FakeStreamedDevice(d).header());
  EXPECT_EQ(r[1].type, record::kPage);
  EXPECT_EQ(r[1].payload, page_record(2, d.memory.token(2)));
  EXPECT_EQ(r[2].payload, page_record(5, d.memory.token(5)));
  EXPECT_EQ(s->initial_bytes(), 0u);
  EXPECT_FALSE(s->at_end());

  d.memory.write(5, 2);  // re-dirtied after it was sent
  EXPECT_EQ(s->dirty_bytes(), kPageRecord);
  EXPECT_EQ(s->stop_copy_bytes(), kPageRecord + kStateRecord + kEndRecord);
  s->finalize();
  const auto rest = read_all(*s);
  ASSERT_EQ(rest.size(), kPageRecord + kStateRecord + kEndRecord);
  const auto q = records(rest, pre.size());
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].payload, page_record(5, d.memory.token(5))) << "the new content";
  EXPECT_EQ(q[1].type, record::kState);
  EXPECT_EQ(q[1].payload, d.state);
  EXPECT_EQ(q[2].type, record::kEnd);
  EXPECT_EQ(u64_at(q[2].payload, 0), q[2].offset) << "END counts the bytes before it";
  EXPECT_TRUE(s->at_end());
  EXPECT_EQ(s->bytes_produced(), pre.size() + rest.size());
  EXPECT_EQ(s->stop_copy_bytes(), 0u);
}

TEST(PagedSaveStream, ReadsOfAnySizeGiveTheSameBytes) {
  FakeDevice d;
  for (uint64_t p : {0, 9, 15}) d.memory.write(p, p + 3);
  auto whole = save(d);
  whole->finalize();
  const auto expected = read_all(*whole);
  auto bitwise = save(d);
  bitwise->finalize();
  std::vector<uint8_t> got, buf(1000);
  for (size_t n; (n = bitwise->read(std::span<uint8_t>(buf.data(), 1 + got.size() % 999))) > 0;)
    got.insert(got.end(), buf.begin(), buf.begin() + n);
  EXPECT_EQ(got, expected);
}

TEST(PagedSaveStream, ChunksStandForExactlyTheBytesOfTheStream) {
  FakeDevice d;
  for (uint64_t p : {1, 4}) d.memory.write(p, 5);
  auto bytes = save(d);
  bytes->finalize();
  const auto expected = read_all(*bytes);
  auto chunked = save(d);
  chunked->finalize();
  std::vector<StreamChunk> chunks;
  EXPECT_EQ(chunked->read_chunks(1 << 20, chunks), expected.size());
  uint64_t pages = 0, total = 0;
  for (const auto& c : chunks) {
    total += c.size_bytes;
    if (c.kind == kChunkPage) {
      ++pages;
      EXPECT_EQ(c.size_bytes, kPageRecord);
      EXPECT_EQ(c.b, d.memory.token(c.a));
    } else {
      EXPECT_EQ(c.bytes.size(), c.size_bytes);
    }
  }
  EXPECT_EQ(pages, 2u);
  EXPECT_EQ(total, expected.size());
}

TEST(PagedSaveStream, PostCopySwitchPackageListsWhatIsLeftThenServesPagesOnce) {
  FakeDevice d;
  for (uint64_t p : {2, 5, 9}) d.memory.write(p, 1);
  auto s = save(d);
  std::vector<uint8_t> first(kHeaderRecord + kPageRecord);
  ASSERT_EQ(s->read(first), first.size()) << "header and page 2";
  ASSERT_TRUE(s->finalize_postcopy());
  EXPECT_TRUE(s->postcopy());
  EXPECT_EQ(s->postcopy_unsent(), 2u);
  const auto pkg = read_all(*s);
  const auto r = records(pkg, first.size());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].type, record::kState);
  EXPECT_EQ(r[1].type, record::kMissing);
  ASSERT_EQ(r[1].payload.size(), 24u);
  EXPECT_EQ(u64_at(r[1].payload, 0), 2u);
  EXPECT_EQ(u64_at(r[1].payload, 8), 5u);
  EXPECT_EQ(u64_at(r[1].payload, 16), 9u);
  EXPECT_EQ(r[2].type, record::kEnd);
  EXPECT_FALSE(s->at_end()) << "two pages still at the source";

  EXPECT_EQ(s->queue_pages(9, 1), 1u);
  const auto served = records(read_all(*s));
  ASSERT_EQ(served.size(), 1u);
  EXPECT_EQ(served[0].payload, page_record(9, d.memory.token(9)));
  EXPECT_EQ(s->queue_pages(9, 1), 0u) << "sent once";
  EXPECT_EQ(s->queue_background(8, false), 1u) << "only 5 is left";
  const auto pushed = records(read_all(*s));
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(u64_at(pushed[0].payload, 0), 5u);
  EXPECT_EQ(s->postcopy_unsent(), 0u);
  EXPECT_TRUE(s->at_end());
}

TEST(PagedSaveStream, CorruptAtFlipsTheLowBitOfExactlyThatByte) {
  FakeDevice d;
  d.memory.write(3, 1);
  auto clean = save(d);
  clean->finalize();
  const auto expected = read_all(*clean);
  auto bad = save(d);
  bad->corrupt_at(kHeaderRecord + 40);
  bad->finalize();
  auto got = read_all(*bad);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_EQ(got[kHeaderRecord + 40], expected[kHeaderRecord + 40] ^ 1);
  got[kHeaderRecord + 40] ^= 1;
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace mdevsim::models::test
