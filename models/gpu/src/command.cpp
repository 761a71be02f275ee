#include "mdevsim/models/gpu/command.h"

namespace mdevsim::models {

const char* engine_name(EngineId e) {
  switch (e) {
    case EngineId::kCompute:
      return "compute";
    case EngineId::kCopy:
      return "copy";
    case EngineId::kDma:
      return "dma";
  }
  return "?";
}

// The engine byte's top bits mark a read-only command and a DMA upload
// (the commands that existed before keep the byte they always had).
constexpr uint8_t kReadOnlyBit = 0x80;
constexpr uint8_t kFromGuestBit = 0x40;

void Command::save(StateWriter& w) const {
  w.u8(static_cast<uint8_t>(static_cast<uint8_t>(engine) | (read_only ? kReadOnlyBit : 0) |
                            (from_guest ? kFromGuestBit : 0)));
  w.u32(count);
  w.u64(key);
  for (uint32_t i = 0; i < count; ++i) w.u64(pages[i]);
}

Command Command::load(StateReader& r, uint64_t vram_pages) {
  Command c;
  const uint8_t byte = r.u8("command engine");
  const uint8_t e = byte & static_cast<uint8_t>(~(kReadOnlyBit | kFromGuestBit));
  c.read_only = (byte & kReadOnlyBit) != 0;
  c.from_guest = (byte & kFromGuestBit) != 0;
  const bool dma = e == static_cast<uint8_t>(EngineId::kDma);
  if (e >= kEngineCount || (c.read_only && dma) || (c.from_guest && !dma))
    throw StateFormatError("command names unknown engine " + std::to_string(e));
  c.engine = static_cast<EngineId>(e);
  c.count = r.u32("command page count");
  if (c.count > kMaxPages) throw StateFormatError("command lists more than 64 pages");
  c.key = r.u64("command key");
  for (uint32_t i = 0; i < c.count; ++i) {
    c.pages[i] = r.u64("command page");
    if (c.pages[i] >= vram_pages) throw StateFormatError("command page beyond VRAM");
  }
  return c;
}

}  // namespace mdevsim::models
