// What verification sees of one device and its guest driver, whatever the
// device type: comparison with another device, the hash of what migrates,
// its memory and post-copy figures, work done, and the few simulator-side
// actions a check needs (clone a reference, resume, stop two devices at one
// instant). Made per device type by the factory (make_inspector in
// device_factory.h). The VMM never sees it: it knows devices only through
// the VFIO ABI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

class DeviceInspector {
 public:
  virtual ~DeviceInspector() = default;
  // The device inspected (its type, for pairing checks and messages).
  virtual const Device& device() const = 0;

  // Field-by-field and page-by-page difference from `other`'s device.
  virtual DeviceDiff compare(const DeviceInspector& other, size_t max_listed = 16) const = 0;
  // Hash of everything that migrates (internal state and memory content).
  virtual uint64_t state_hash() const = 0;
  virtual bool running() const = 0;
  // Pages of work the device's engines have done so far.
  virtual uint64_t work_done() const = 0;
  // The device's memory (VRAM for a GPU).
  virtual const PageStore& memory() const = 0;

  // Post-copy destination: pages still at the source, pages placed after the
  // switch with the content they arrived with, stalls and faults.
  virtual bool missing(uint64_t page) const = 0;
  virtual uint64_t missing_count() const = 0;
  virtual const std::vector<std::pair<uint64_t, uint64_t>>& placed() const = 0;
  virtual const std::vector<double>& stalls() const = 0;
  virtual uint64_t faults() const = 0;
  virtual const std::vector<MissingPages::FaultRecord>& fault_log() const = 0;

  // This device and its guest driver become a copy of `source`'s (same type).
  virtual void clone_from(const DeviceInspector& source) = 0;
  // The device runs again (after the migration stopped it).
  virtual void resume() = 0;
  // Stops this device and `other` at one and the same instant.
  virtual void stop_together_with(DeviceInspector& other) = 0;
};

}  // namespace mdevsim::models
