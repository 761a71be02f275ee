// Commands the guest driver places in a context's ring, and the ring itself.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models {

enum class EngineId : uint8_t { kCompute = 0, kCopy = 1, kDma = 2 };
inline constexpr int kEngineCount = 3;
const char* engine_name(EngineId e);

// One command: a list of VRAM pages an engine works on. Self-contained, so a
// command sitting in a ring or half-executed in an engine migrates as data.
struct Command {
  static constexpr uint32_t kMaxPages = 64;
  EngineId engine = EngineId::kCompute;
  uint32_t count = 0;  // pages listed
  uint64_t key = 0;    // value stream the writes fold in
  // Reads the listed pages instead of writing them (weights read per token):
  // takes engine time and faults in post-copy, changes nothing.
  bool read_only = false;
  // DMA: reads the next guest pages of the DMA buffer into the listed VRAM
  // pages (an upload) instead of writing VRAM pages out to guest RAM.
  bool from_guest = false;
  std::array<uint64_t, kMaxPages> pages{};

  bool operator==(const Command&) const = default;
  void save(StateWriter& w) const;
  static Command load(StateReader& r, uint64_t vram_pages);
};

// A context's command ring (the ring memory; pointers live in registers).
struct RingState {
  std::vector<Command> entries;  // ring_entries slots
  bool operator==(const RingState&) const = default;
};

}  // namespace mdevsim::models
