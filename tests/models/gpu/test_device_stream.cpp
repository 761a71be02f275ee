// The device stream's format, byte for byte: a small device with every
// migrating field set to a distinct value is saved and compared with the
// checked-in image (tests/models/gpu/golden/device_stream.hex), so that a change
// of the format that was not meant fails here. A change that is meant bumps
// the stream version (models/gpu/src/device_stream.cpp) and regenerates the file:
//   MDEVSIM_UPDATE_GOLDEN=1 ctest --test-dir build -R DeviceStreamGolden
// The checked-in image must also still restore, into an equal device.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/gpu_device.h"

namespace mdevsim::models {
namespace {

const std::string kGolden =
    std::string(MDEVSIM_SOURCE_DIR) + "/tests/models/gpu/golden/device_stream.hex";

DeviceConfig golden_config() {
  DeviceConfig c;
  c.vram_bytes = 64 * 4096;
  c.page_size = 4096;
  c.contexts = 2;
  c.dma_buffer_bytes = 16 * 4096;
  return c;
}

Command command(EngineId e, uint64_t key, std::initializer_list<uint64_t> pages) {
  Command c;
  c.engine = e;
  c.key = key;
  for (uint64_t p : pages) c.pages[c.count++] = p;
  return c;
}

// Every field that migrates, set to a value of its own (no defaults, so a
// field dropped or moved shows).
void set_golden_state(GpuDevice& dev) {
  DeviceState s = dev.capture_state();
  auto& r = s.registers.values;
  for (size_t i = 0; i < r.size(); ++i) r[i] = 0x1000 + static_cast<uint32_t>(i);
  const size_t ctx0 = kGlobalRegCount, ctx1 = ctx0 + size_t{kContextRegCount};
  r[ctx0 + kRptr] = 3;  // two live entries
  r[ctx0 + kWptr] = 5;
  r[ctx1 + kRptr] = 63;  // one live entry, wrapping
  r[ctx1 + kWptr] = 0;
  s.rings[0].entries[3] = command(EngineId::kCompute, 0x1111111111111111, {1, 2, 3});
  s.rings[0].entries[4] = command(EngineId::kDma, 0x2222222222222222, {4});
  s.rings[1].entries[63] = command(EngineId::kCopy, 0x3333333333333333, {5, 6});
  s.engines[0] = {true, command(EngineId::kCompute, 0x4444444444444444, {7, 8, 9}), 2, 11, 12, 0};
  s.engines[1] = {false, Command{}, 0, 21, 22, 0};
  s.engines[2] = {true, command(EngineId::kDma, 0x5555555555555555, {10, 11}), 1, 31, 32, 9};
  s.next_context = 1;
  dev.apply_state(s);
  dev.vram.write_page(0, 0x0123456789abcdef);
  dev.vram.write_page(63, 0xfedcba9876543210);
}

std::vector<uint8_t> save_image(GpuDevice& dev) {
  auto s = dev.open_save_stream();
  s->finalize();
  std::vector<uint8_t> out(1 << 20);
  size_t n = 0;
  for (size_t k; (k = s->read(std::span<uint8_t>(out).subspan(n))) > 0;) n += k;
  out.resize(n);
  return out;
}

const char* record_name(uint32_t type) {
  switch (type) {
    case 1:
      return "HEADER";
    case 2:
      return "PAGE";
    case 3:
      return "STATE";
    case 4:
      return "END";
    case 5:
      return "MISSING";
  }
  return "?";
}

struct Record {
  size_t offset;  // of its 16-byte record header
  uint32_t type;
  uint64_t length;
};

std::vector<Record> records(const std::vector<uint8_t>& img) {
  std::vector<Record> out;
  for (size_t at = 0; at + 16 <= img.size();) {
    Record r{at, 0, 0};
    std::memcpy(&r.type, img.data() + at, 4);
    std::memcpy(&r.length, img.data() + at + 8, 8);
    out.push_back(r);
    if (r.length > img.size() - at - 16) break;
    at += 16 + r.length;
  }
  return out;
}

// Hex, 16 bytes a line, a comment line before each record.
std::string annotated_hex(const std::vector<uint8_t>& img) {
  std::ostringstream o;
  o << "# mdevsim device stream, golden image of tests/models/gpu/test_device_stream.cpp\n"
       "# (regenerate: MDEVSIM_UPDATE_GOLDEN=1 ctest --test-dir build -R DeviceStreamGolden)\n"
       "# "
    << img.size() << " bytes; '#' lines are comments\n";
  char buf[8];
  for (const Record& r : records(img)) {
    o << "# offset " << r.offset << ": " << record_name(r.type) << " record, " << r.length
      << " payload bytes\n";
    const size_t end = std::min(img.size(), r.offset + 16 + r.length);
    for (size_t i = r.offset; i < end; ++i) {
      std::snprintf(buf, sizeof buf, "%02x", img[i]);
      o << buf << ((i - r.offset) % 16 == 15 || i + 1 == end ? "\n" : " ");
    }
  }
  return o.str();
}

std::vector<uint8_t> parse_hex(std::istream& in) {
  std::vector<uint8_t> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) out.push_back(static_cast<uint8_t>(std::stoul(w, nullptr, 16)));
  }
  return out;
}

std::string where(const std::vector<uint8_t>& img, size_t offset) {
  for (const Record& r : records(img))
    if (offset < r.offset + 16 + r.length)
      return std::string(record_name(r.type)) + " record at " + std::to_string(r.offset) +
             ", byte " + std::to_string(offset - r.offset) + " of it";
  return "beyond the last record";
}

TEST(DeviceStreamGolden, SavedImageIsByteForByteTheCheckedInOne) {
  GpuDevice dev("dev", golden_config());
  set_golden_state(dev);
  dev.set_running(false);
  const auto image = save_image(dev);
  if (std::getenv("MDEVSIM_UPDATE_GOLDEN")) {
    std::ofstream(kGolden) << annotated_hex(image);
    GTEST_SKIP() << "wrote " << kGolden;
  }
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << "cannot read " << kGolden;
  const auto golden = parse_hex(in);
  // header 56, two 4 KiB pages of 4120, the state record, end 32
  const auto rec = records(image);
  ASSERT_EQ(rec.size(), 5u);
  EXPECT_EQ(rec[0].type, 1u);
  EXPECT_EQ(rec[1].type, 2u);
  EXPECT_EQ(rec[2].type, 2u);
  EXPECT_EQ(rec[3].type, 3u);
  EXPECT_EQ(rec[4].type, 4u);
  size_t first = 0;
  while (first < image.size() && first < golden.size() && image[first] == golden[first]) ++first;
  EXPECT_EQ(image.size(), golden.size()) << "the image's size changed";
  EXPECT_EQ(first, std::min(image.size(), golden.size()))
      << "first difference at byte " << first << " (" << where(golden, first)
      << "): an unintended change of the device stream format? If intended, bump "
         "kStreamVersion and regenerate the golden file";
}

// Compatibility: the checked-in image still restores, and gives exactly
// the device it was saved from.
TEST(DeviceStreamGolden, CheckedInImageRestoresIntoAnEqualDevice) {
  std::ifstream in(kGolden);
  ASSERT_TRUE(in) << "cannot read " << kGolden;
  const auto golden = parse_hex(in);
  GpuDevice expected("expected", golden_config()), restored("restored", golden_config());
  set_golden_state(expected);
  expected.set_running(false);
  restored.set_running(false);
  auto r = restored.open_resume_stream();
  ASSERT_TRUE(r->write(golden).ok());
  const StreamStatus st = r->commit();
  ASSERT_TRUE(st.ok()) << st.message;
  const auto diff = compare_devices(expected, restored);
  EXPECT_TRUE(diff.equal()) << (diff.differences.empty() ? "" : diff.differences[0]);
  EXPECT_EQ(expected.capture_state(), restored.capture_state());
  EXPECT_EQ(restored.vram.store().touched_pages(), 2u);
  EXPECT_NE(restored.vram.token(0), 0u);
  EXPECT_EQ(restored.vram.token(0), expected.vram.token(0));
  EXPECT_EQ(restored.vram.token(63), expected.vram.token(63));
}

}  // namespace
}  // namespace mdevsim::models
