// libFuzzer target: arbitrary bytes into a device's resume stream, in
// arbitrary segments, then commit. It must accept or reject cleanly and,
// when it rejects, leave the device exactly as it was.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "mdevsim/models/gpu/gpu_device.h"

namespace {

// A small device (never destroyed: SystemC modules live to the end). A
// GpuDevice itself: the bytes are parsed as the GPU's own stream (its header
// and state blob), and the checks read its VRAM's missing pages.
mdevsim::models::GpuDevice* small_device(const char* name) {
  mdevsim::models::DeviceConfig c;
  c.vram_bytes = 1 << 20;
  c.page_size = 4096;
  c.contexts = 2;
  c.dma_buffer_bytes = 4096;
  return new mdevsim::models::GpuDevice(name, c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mdevsim::models::GpuDevice* dev = small_device("fuzzdev");
  const uint64_t before = dev->state_hash();
  auto r = dev->open_resume_stream();
  size_t pos = 0;
  while (pos < size) {
    const size_t n = std::min<size_t>(size - pos, 1 + data[pos] % 97);
    if (!r->write(std::span<const uint8_t>(data + pos, n)).ok()) break;
    pos += n;
  }
  if (!r->commit().ok() && dev->state_hash() != before) abort();  // rejected but changed
  // The same bytes as a post-copy switch package: commit_partial must also
  // accept or reject cleanly; accepted, later page records are placed.
  static mdevsim::models::GpuDevice* pc = small_device("fuzzpc");
  pc->vram.set_missing({});
  const uint64_t pc_before = pc->state_hash();
  auto p = pc->open_resume_stream();
  const size_t half = size / 2;
  if (!p->write(std::span<const uint8_t>(data, half)).ok()) return 0;
  if (!p->commit_partial().ok()) {
    if (pc->state_hash() != pc_before) abort();
    return 0;
  }
  p->write(std::span<const uint8_t>(data + half, size - half));
  p->commit();
  return 0;
}

// libsystemc.so references sc_main; libFuzzer's main() runs instead.
extern "C" int sc_main(int, char**) { return 0; }
