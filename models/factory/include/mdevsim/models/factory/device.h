// A device as the simulator builds and holds it, whatever its type: the
// migratable device the VFIO frontend drives (MigratableDevice, the narrow
// interface), plus what the simulated host does with it (bind its DMA to guest
// memory) and what a run observes of it (work done, its memory, state hash,
// comparison with another device of its type). Built by the device factory
// (device_factory.h) from the scenario's `device.type`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/models/device_api/migration_port.h"
#include "mdevsim/models/memory/guest_memory_target.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

// One differing internal-state field, structured (for results and scripts).
struct FieldDifference {
  // configuration | register | ring_entry | engine | command_processor
  std::string kind;
  std::string field;  // "FENCE_COMPLETED", "ctx[0].RPTR", "ctx[0].ring[5]", "dma.progress"
  std::optional<uint64_t> a, b;  // the two values, where the field is a number
};

struct DeviceDiff {
  uint64_t vram_pages = 0;               // pages whose content differs
  uint64_t fields = 0;                   // internal-state fields that differ
  std::vector<std::string> differences;  // the first few, named ("ctx[3].RPTR", "vram page 17")
  std::optional<FieldDifference> first_field;  // the first in state order
  std::optional<uint64_t> first_vram_page;     // the lowest differing page
  bool equal() const { return vram_pages == 0 && fields == 0; }
};

class Device : public MigratableDevice {
 public:
  // The factory's name for this device's type ("gpu").
  virtual std::string type() const = 0;
  // The device's DMA initiator socket is bound to the host's guest memory
  // (before the simulation starts; a device never bound does no DMA).
  virtual void bind_guest_memory(GuestMemoryTarget& memory) = 0;
  // Work counters: whether every engine is idle; pages of work done so far.
  virtual bool engines_idle() const = 0;
  virtual uint64_t engine_pages_done() const = 0;
  // The device's own memory (VRAM): its content and dirty tracking.
  virtual PageStore& memory() = 0;
  virtual const PageStore& memory() const = 0;
  // Hash of everything that migrates (internal state and memory content).
  virtual uint64_t state_hash() const = 0;
  // Field-by-field and page-by-page difference from `other` (same type, or
  // a configuration difference).
  virtual DeviceDiff compare(const Device& other, size_t max_listed = 16) const = 0;
};

// The guest's driver of a device: runs only while the guest runs.
class GuestDriver {
 public:
  virtual ~GuestDriver() = default;
  virtual void set_guest_running(bool running) = 0;
  virtual bool guest_running() const = 0;
};

}  // namespace mdevsim::models
