// The resuming side of the generic stream (models/stream/src/paged_resume_stream.cpp)
// for a device that is not a GPU: a saved image restores exactly whatever
// its segmentation; a flipped byte anywhere is caught and nothing is
// applied; post-copy places pages as they arrive.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fake_streamed_device.h"
#include "mdevsim/models/stream/record_format.h"

namespace mdevsim::models::test {
namespace {

constexpr uint64_t kHeaderRecord = 16 + kFakeHeaderPayload;
constexpr uint64_t kPageRecord = 16 + 8 + kFakePage;

// A source with pages 0, 6 and 13 written and a state of its own.
void fill_source(FakeDevice& d) {
  for (uint64_t p : {13, 0, 6}) d.memory.write(p, p * 11 + 1);
  d.state = {9, 8, 7, 6, 5};
}

std::vector<uint8_t> image(FakeDevice& src, std::optional<uint64_t> corrupt = {}) {
  auto s = save(src);
  if (corrupt) s->corrupt_at(*corrupt);
  s->finalize();
  return read_all(*s);
}

bool same_memory(const PageStore& a, const PageStore& b) {
  bool same = a.touched_pages() == b.touched_pages();
  a.for_each_touched([&](uint64_t p, uint64_t t) { same = same && b.token(p) == t; });
  return same;
}

TEST(PagedResumeStream, AnImageRestoresExactlyWhateverItsSegmentation) {
  FakeDevice src;
  fill_source(src);
  const auto img = image(src);
  for (size_t step : {size_t{1}, size_t{7}, size_t{4120}, img.size()}) {
    FakeDevice dst;
    dst.memory.write(11, 3);  // content of its own, replaced on commit
    auto r = resume(dst);
    for (size_t at = 0; at < img.size(); at += step) {
      const size_t n = std::min(step, img.size() - at);
      ASSERT_TRUE(r->write(std::span<const uint8_t>(img.data() + at, n)).ok()) << step;
    }
    EXPECT_EQ(r->bytes_consumed(), img.size());
    EXPECT_NE(dst.memory.token(11), 0u) << "nothing is applied before commit";
    ASSERT_TRUE(r->commit().ok()) << step;
    EXPECT_TRUE(same_memory(src.memory, dst.memory)) << step;
    EXPECT_EQ(dst.state, src.state) << step;
  }
}

TEST(PagedResumeStream, TheChunkPathRestoresTheSame) {
  FakeDevice src, dst;
  fill_source(src);
  auto s = save(src);
  s->finalize();
  std::vector<StreamChunk> chunks;
  while (s->read_chunks(5000, chunks) > 0) {
  }
  auto r = resume(dst);
  ASSERT_TRUE(r->write_chunks(chunks).ok());
  ASSERT_TRUE(r->commit().ok());
  EXPECT_TRUE(same_memory(src.memory, dst.memory));
  EXPECT_EQ(dst.state, src.state);
}

// Every byte of the stream, flipped: the image is refused and the
// destination keeps what it had.
TEST(PagedResumeStream, AFlippedByteAnywhereIsCaughtAndNothingIsApplied) {
  FakeDevice src;
  fill_source(src);
  const uint64_t size = image(src).size();
  const uint64_t state_at = kHeaderRecord + 3 * kPageRecord;
  for (uint64_t at = 0; at < size; at += (at >= state_at || at < kHeaderRecord + 32) ? 1 : 509) {
    FakeDevice dst;
    dst.memory.write(11, 3);
    const uint64_t before = dst.memory.token(11);
    auto r = resume(dst);
    const auto bad = image(src, at);
    StreamStatus st = r->write(bad);
    if (st.ok()) st = r->commit();
    ASSERT_FALSE(st.ok()) << "byte " << at << " flipped went unnoticed";
    EXPECT_EQ(dst.memory.token(11), before) << at;
    EXPECT_EQ(dst.state, (std::vector<uint8_t>{1, 2, 3, 4, 5})) << at;
    // The state payload is covered by the checksum alone.
    if (at >= state_at + 16 && at < state_at + 21) {
      EXPECT_EQ(st.error, StreamError::kCorrupt) << at;
      EXPECT_NE(st.message.find("checksum mismatch"), std::string::npos) << st.message;
    }
  }
}

TEST(PagedResumeStream, AFlippedPageByteNamesThePage) {
  FakeDevice src, dst;
  fill_source(src);
  auto r = resume(dst);
  const auto st = r->write(image(src, kHeaderRecord + kPageRecord + 16 + 8 + 100));
  EXPECT_EQ(st.error, StreamError::kCorrupt);
  EXPECT_NE(st.message.find("content of page 6 is corrupt"), std::string::npos) << st.message;
}

TEST(PagedResumeStream, HeaderMismatchesNameTheFormatOrTheConfiguration) {
  FakeDevice src;
  fill_source(src);
  {
    FakeDevice other(8);
    const auto st = resume(other)->write(image(src));
    EXPECT_EQ(st.error, StreamError::kBadHeader);
    EXPECT_NE(st.message.find("incompatible device (this one: fake config=8)"), std::string::npos)
        << st.message;
  }
  {
    FakeDevice dst;
    const auto st = resume(dst)->write(image(src, 16));  // the magic's first byte
    EXPECT_EQ(st.error, StreamError::kBadHeader);
    EXPECT_NE(st.message.find("not an mdevsim fake stream (bad magic)"), std::string::npos)
        << st.message;
  }
  {
    FakeDevice dst;
    auto img = image(src);
    const auto st = resume(dst)->write(std::span<const uint8_t>(img).subspan(kHeaderRecord));
    EXPECT_EQ(st.error, StreamError::kBadHeader);
    EXPECT_NE(st.message.find("not an mdevsim fake stream: it does not start with a header"),
              std::string::npos)
        << st.message;
  }
}

TEST(PagedResumeStream, TruncatedOrOverlongImagesAreRefused) {
  FakeDevice src;
  fill_source(src);
  auto img = image(src);
  {
    FakeDevice dst;
    auto r = resume(dst);
    ASSERT_TRUE(r->write(std::span<const uint8_t>(img).first(img.size() - 1)).ok());
    const auto st = r->commit();
    EXPECT_EQ(st.error, StreamError::kIncomplete);
    EXPECT_NE(st.message.find("without its end record"), std::string::npos) << st.message;
    EXPECT_TRUE(dst.memory.touched_pages() == 0);
  }
  {
    FakeDevice dst;
    img.push_back(0);
    const auto st = resume(dst)->write(img);
    EXPECT_EQ(st.error, StreamError::kTooLong);
  }
}

TEST(PagedResumeStream, AStateTheDeviceRefusesIsCorruptAndNothingIsApplied) {
  FakeDevice src, dst;
  fill_source(src);
  src.state = {1, 2, 3};  // the fake type's state is five bytes
  auto r = resume(dst);
  ASSERT_TRUE(r->write(image(src)).ok());
  const auto st = r->commit();
  EXPECT_EQ(st.error, StreamError::kCorrupt);
  EXPECT_NE(st.message.find("device state record: fake state must be 5 bytes"), std::string::npos)
      << st.message;
  EXPECT_EQ(dst.memory.touched_pages(), 0u);
}

// The header and page 0 go before the switch; the package follows.
struct PostcopySource {
  explicit PostcopySource(FakeDevice& src) : s(save(src)), head(kHeaderRecord + kPageRecord) {
    EXPECT_EQ(s->read(head), head.size());
    s->finalize_postcopy();
    package = read_all(*s);
  }
  std::unique_ptr<SaveStream> s;
  std::vector<uint8_t> head, package;
};

TEST(PagedResumeStream, APostCopyPackageCannotBeCommittedWhole) {
  FakeDevice src, dst;
  fill_source(src);
  PostcopySource pc(src);
  auto r = resume(dst);
  ASSERT_TRUE(r->write(pc.head).ok());
  ASSERT_TRUE(r->write(pc.package).ok());
  const auto st = r->commit();
  EXPECT_EQ(st.error, StreamError::kIncomplete);
  EXPECT_NE(st.message.find("needs the destination to run while resuming"), std::string::npos)
      << st.message;
}

TEST(PagedResumeStream, PostCopyAppliesTheSwitchPackageThenPlacesPagesAsTheyArrive) {
  FakeDevice src, dst;
  fill_source(src);
  PostcopySource pc(src);
  auto r = resume(dst);
  EXPECT_EQ(r->write(pc.head).error, StreamError::kNone);
  EXPECT_EQ(r->commit_partial().error, StreamError::kIncomplete) << "no package yet";
  FakeDevice dst2;
  auto r2 = resume(dst2);
  ASSERT_TRUE(r2->write(pc.head).ok());
  ASSERT_TRUE(r2->write(pc.package).ok());
  ASSERT_TRUE(r2->commit_partial().ok());
  EXPECT_EQ(dst2.missing, (std::set<uint64_t>{6, 13}));
  EXPECT_EQ(dst2.state, src.state);
  EXPECT_EQ(dst2.memory.token(0), src.memory.token(0));
  const auto waiting = r2->commit();
  EXPECT_EQ(waiting.error, StreamError::kIncomplete);
  EXPECT_NE(waiting.message.find("2 pages have not arrived yet"), std::string::npos)
      << waiting.message;
}

TEST(PagedResumeStream, PostCopyPagesArePlacedAsTheyArriveByBytesOrChunks) {
  FakeDevice src, dst;
  fill_source(src);
  PostcopySource pc(src);
  auto r = resume(dst);
  ASSERT_TRUE(r->write(pc.head).ok());
  ASSERT_TRUE(r->write(pc.package).ok());
  ASSERT_TRUE(r->commit_partial().ok());
  pc.s->queue_pages(13, 1);
  ASSERT_TRUE(r->write(read_all(*pc.s)).ok());
  EXPECT_EQ(dst.placed, (std::vector<std::pair<uint64_t, uint64_t>>{{13, src.memory.token(13)}}));
  pc.s->queue_background(10, false);
  std::vector<StreamChunk> chunks;
  EXPECT_EQ(pc.s->read_chunks(1 << 20, chunks), kPageRecord);
  ASSERT_TRUE(r->write_chunks(chunks).ok());
  EXPECT_TRUE(dst.missing.empty());
  EXPECT_TRUE(r->commit().ok());
  EXPECT_TRUE(same_memory(src.memory, dst.memory));
  // After the package only pages may come.
  uint8_t state_header[16];
  put_record_header(state_header, record::kState, 5);
  const auto st = r->write(std::span<const uint8_t>(state_header, 16));
  EXPECT_EQ(st.error, StreamError::kCorrupt);
  EXPECT_NE(st.message.find("only page records may follow"), std::string::npos) << st.message;
}

}  // namespace
}  // namespace mdevsim::models::test
