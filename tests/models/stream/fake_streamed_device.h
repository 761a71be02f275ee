// A device type that is not a GPU, for the generic stream's tests: 16 pages
// of 4 KiB memory, a state blob of exactly five bytes, and a 12-byte header
// (magic "FAKEDEV\0", u32 configuration).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mdevsim/models/stream/paged_stream.h"
#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models::test {

inline constexpr uint32_t kFakePage = 4096;
inline constexpr uint64_t kFakePages = 16;
inline constexpr uint64_t kFakeHeaderPayload = 12;

struct FakeDevice {
  explicit FakeDevice(uint32_t config = 7) : config(config) {}
  uint32_t config;
  PageStore memory{kFakePages * kFakePage, kFakePage};
  std::vector<uint8_t> state{1, 2, 3, 4, 5};
  std::set<uint64_t> missing;
  std::vector<std::pair<uint64_t, uint64_t>> placed;
};

class FakeStreamedDevice final : public StreamedDevice {
 public:
  explicit FakeStreamedDevice(FakeDevice& d) : d_(d) {}
  PageStore& memory() override { return d_.memory; }
  std::vector<uint8_t> header() const override {
    StateWriter w;
    for (char c : std::string("FAKEDEV", 8)) w.u8(static_cast<uint8_t>(c));
    w.u32(d_.config);
    return w.take();
  }
  std::vector<uint8_t> state() const override { return d_.state; }
  std::function<void()> parse_state(std::span<const uint8_t> blob) const override {
    if (blob.size() != 5) throw StateFormatError("fake state must be 5 bytes");
    return [&d = d_, s = std::vector<uint8_t>(blob.begin(), blob.end())] { d.state = s; };
  }
  void set_missing(const std::vector<uint64_t>& pages) override {
    d_.missing = {pages.begin(), pages.end()};
  }
  uint64_t missing_pages() const override { return d_.missing.size(); }
  void place_page(uint64_t page, uint64_t token) override {
    if (d_.missing.erase(page) == 0) return;
    d_.memory.set_token(page, token);
    d_.placed.emplace_back(page, token);
  }
  std::string format_name() const override { return "mdevsim fake stream"; }
  std::string memory_name() const override { return "fake memory"; }
  std::string compatibility_string() const override {
    return "fake config=" + std::to_string(d_.config);
  }

 private:
  FakeDevice& d_;
};

inline std::unique_ptr<SaveStream> save(FakeDevice& d) {
  return open_paged_save_stream(std::make_unique<FakeStreamedDevice>(d));
}
inline std::unique_ptr<ResumeStream> resume(FakeDevice& d) {
  return open_paged_resume_stream(std::make_unique<FakeStreamedDevice>(d));
}

// Everything the stream has now, read in one go.
inline std::vector<uint8_t> read_all(SaveStream& s) {
  std::vector<uint8_t> out, buf(1 << 16);
  for (size_t n; (n = s.read(buf)) > 0;) out.insert(out.end(), buf.begin(), buf.begin() + n);
  return out;
}

}  // namespace mdevsim::models::test
