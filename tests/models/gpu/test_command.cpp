// A command's state encoding, byte for byte against its layout (engine u8,
// count u32, key u64, then `count` page numbers u64, little endian), and the
// decoder's refusals of what no valid command can hold.
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/command.h"

namespace mdevsim::models {
namespace {

std::vector<uint8_t> encode(const Command& c) {
  StateWriter w;
  c.save(w);
  return w.take();
}

TEST(Command, EncodingIsEngineCountKeyThenTheListedPagesOnly) {
  Command c;
  c.engine = EngineId::kCopy;
  c.count = 2;
  c.key = 0x1122334455667788ULL;
  c.pages[0] = 7;
  c.pages[1] = 0x0102030405060708ULL;
  c.pages[2] = 99;  // not listed: not encoded
  const auto b = encode(c);
  ASSERT_EQ(b.size(), 1u + 4 + 8 + 2 * 8);
  EXPECT_EQ(b[0], 1);  // kCopy
  uint32_t count;
  std::memcpy(&count, &b[1], 4);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(b[5], 0x88);  // little endian key
  EXPECT_EQ(b[12], 0x11);
  uint64_t p1;
  std::memcpy(&p1, &b[21], 8);
  EXPECT_EQ(p1, 0x0102030405060708ULL);
}

TEST(Command, DecodesWhatWasEncoded) {
  Command c;
  c.engine = EngineId::kDma;
  c.count = Command::kMaxPages;
  c.key = 42;
  for (uint32_t i = 0; i < c.count; ++i) c.pages[i] = i * 3;
  const auto b = encode(c);
  StateReader r(b);
  EXPECT_EQ(Command::load(r, 1000), c);
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(Command, RefusesAnUnknownEngine) {
  Command c;
  auto b = encode(c);
  b[0] = kEngineCount;
  StateReader r(b);
  EXPECT_THROW(Command::load(r, 16), StateFormatError);
}

TEST(Command, RefusesMoreThanSixtyFourPages) {
  Command c;
  auto b = encode(c);
  const uint32_t too_many = Command::kMaxPages + 1;
  std::memcpy(&b[1], &too_many, 4);
  StateReader r(b);
  EXPECT_THROW(Command::load(r, 16), StateFormatError);
}

TEST(Command, RefusesAPageBeyondVram) {
  Command c;
  c.count = 1;
  c.pages[0] = 16;
  const auto b = encode(c);
  StateReader ok(b);
  EXPECT_NO_THROW(Command::load(ok, 17));
  StateReader r(b);
  EXPECT_THROW(Command::load(r, 16), StateFormatError);
}

TEST(Command, RefusesATruncatedCommand) {
  Command c;
  c.count = 3;
  auto b = encode(c);
  b.resize(b.size() - 1);
  StateReader r(b);
  EXPECT_THROW(Command::load(r, 16), StateFormatError);
}

TEST(Command, EngineNamesFollowTheEngineIds) {
  EXPECT_STREQ(engine_name(EngineId::kCompute), "compute");
  EXPECT_STREQ(engine_name(EngineId::kCopy), "copy");
  EXPECT_STREQ(engine_name(EngineId::kDma), "dma");
}

}  // namespace
}  // namespace mdevsim::models
