// The framing every device stream shares (models/stream/record_format.h):
// the 16-byte record header's byte layout, the record and image sizes, and
// the checksum's sensitivity.
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/stream/record_format.h"

namespace mdevsim::models {
namespace {

TEST(RecordFormat, HeaderIsTypeZeroAndLengthLittleEndian) {
  uint8_t b[16];
  put_record_header(b, record::kMissing, 0x0102030405060708ULL);
  const uint8_t expected[16] = {5, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(std::vector<uint8_t>(b, b + 16), std::vector<uint8_t>(expected, expected + 16));
  const RecordHeader h = parse_record_header(b);
  EXPECT_EQ(h.type, 5u);
  EXPECT_EQ(h.reserved, 0u);
  EXPECT_EQ(h.length, 0x0102030405060708ULL);
}

TEST(RecordFormat, ParseReportsANonZeroReservedWord) {
  const uint8_t b[16] = {2, 0, 0, 0, 9, 0, 0, 0, 0x18, 0x10, 0, 0, 0, 0, 0, 0};
  const RecordHeader h = parse_record_header(b);
  EXPECT_EQ(h.type, record::kPage);
  EXPECT_EQ(h.reserved, 9u);
  EXPECT_EQ(h.length, 4096u + 24u);
}

TEST(RecordFormat, RecordAndImageSizes) {
  // A page record: header, u64 index, the page.
  EXPECT_EQ(page_record_bytes(4096), 4120u);
  EXPECT_EQ(page_record_bytes(65536), 65560u);
  // Header record (16 + 40), 3 pages, state record (16 + 10), end (16 + 16).
  EXPECT_EQ(image_bytes(40, 3, 4096, 10), 56u + 3 * 4120u + 26u + 32u);
  EXPECT_EQ(image_bytes(12, 0, 4096, 0), 28u + 16u + 32u);
}

uint64_t sum_of(const std::vector<uint8_t>& bytes) {
  StreamChecksum c;
  c.bytes(bytes.data(), bytes.size());
  return c.value();
}

TEST(RecordFormat, ChecksumChangesWithEveryFlippedBit) {
  std::vector<uint8_t> data(37);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7 + 1);
  const uint64_t base = sum_of(data);
  for (size_t i = 0; i < data.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto d = data;
      d[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_NE(sum_of(d), base) << "byte " << i << " bit " << bit;
    }
}

TEST(RecordFormat, ChecksumDoesNotDependOnHowBytesAreSplit) {
  std::vector<uint8_t> data(29);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(255 - i);
  StreamChecksum split;
  split.bytes(data.data(), 3);
  split.bytes(data.data() + 3, 11);
  split.bytes(data.data() + 14, 15);
  EXPECT_EQ(split.value(), sum_of(data));
}

TEST(RecordFormat, ChecksumSeesTheLengthOfAPartialWordAndTheOrderOfWords) {
  // A trailing zero byte is content, not padding.
  EXPECT_NE(sum_of({1, 2, 3}), sum_of({1, 2, 3, 0}));
  StreamChecksum ab, ba;
  ab.word(1);
  ab.word(2);
  ba.word(2);
  ba.word(1);
  EXPECT_NE(ab.value(), ba.value());
}

TEST(RecordFormat, APageCountsAsItsRecordHeaderThenIndexAndToken) {
  StreamChecksum by_page, by_hand;
  by_page.page(4096, 17, 0xabc);
  uint8_t hdr[16];
  put_record_header(hdr, record::kPage, 4104);
  by_hand.bytes(hdr, 16);
  by_hand.flush();
  by_hand.word(17);
  by_hand.word(0xabc);
  EXPECT_EQ(by_page.value(), by_hand.value());
  StreamChecksum other_token;
  other_token.page(4096, 17, 0xabd);
  EXPECT_NE(other_token.value(), by_page.value());
}

}  // namespace
}  // namespace mdevsim::models
