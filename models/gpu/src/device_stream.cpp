// The GPU's part of its migration stream: the header naming its
// configuration, its internal state and VRAM as the stream's memory. The
// framing, checksum, passes and post-copy service are the generic paged
// stream's (models/stream/paged_stream.h, record_format.h).
//
// GPU header payload (40 bytes): magic "MDEVGPU\0", u32 version, u32 flags,
// u64 vram bytes, u32 page size, u32 contexts, u32 ring entries, u32 zero.
// State payload: GpuDevice::serialize_state.
#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/stream/paged_stream.h"
#include "mdevsim/models/stream/record_format.h"

namespace mdevsim::models {

namespace {

constexpr uint32_t kStreamVersion = 1;
constexpr char kMagic[kMagicBytes] = {'M', 'D', 'E', 'V', 'G', 'P', 'U', '\0'};

std::vector<uint8_t> header_payload(const DeviceConfig& c) {
  StateWriter w;
  for (char ch : kMagic) w.u8(static_cast<uint8_t>(ch));
  w.u32(kStreamVersion);
  w.u32(0);
  w.u64(c.vram_bytes);
  w.u32(c.page_size);
  w.u32(c.contexts);
  w.u32(kRingEntries);
  w.u32(0);
  return w.take();
}

class GpuStreamedDevice final : public StreamedDevice {
 public:
  explicit GpuStreamedDevice(GpuDevice& dev) : dev_(dev) {}
  PageStore& memory() override { return dev_.vram.store(); }
  std::vector<uint8_t> header() const override { return header_payload(dev_.config()); }
  std::vector<uint8_t> state() const override { return dev_.serialize_state(); }
  std::function<void()> parse_state(std::span<const uint8_t> blob) const override {
    return [&dev = dev_, state = dev_.parse_state(blob)] { dev.apply_state(state); };
  }
  void set_missing(const std::vector<uint64_t>& pages) override { dev_.vram.set_missing(pages); }
  uint64_t missing_pages() const override { return dev_.vram.missing_count(); }
  void place_page(uint64_t page, uint64_t token) override { dev_.vram.place_page(page, token); }
  std::string format_name() const override { return "mdevsim GPU stream"; }
  std::string memory_name() const override { return "VRAM"; }
  std::string compatibility_string() const override { return dev_.compatibility_string(); }

 private:
  GpuDevice& dev_;
};

}  // namespace

std::unique_ptr<SaveStream> GpuDevice::open_save_stream() {
  return open_paged_save_stream(std::make_unique<GpuStreamedDevice>(*this));
}

uint64_t GpuDevice::full_image_bytes() const {
  const auto& store = vram.store();
  return image_bytes(header_payload(config_).size(), store.touched_pages(), store.page_size(),
                     serialize_state().size());
}

std::unique_ptr<ResumeStream> GpuDevice::open_resume_stream() {
  return open_paged_resume_stream(std::make_unique<GpuStreamedDevice>(*this));
}

}  // namespace mdevsim::models
