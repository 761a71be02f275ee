// What the verification oracle sees of one host: its device and guest RAM,
// read for comparison, plus the few simulator-side actions an oracle needs
// (clone the reference, let a run continue, freeze it). The VMM never uses
// this: it sees devices only through the VFIO ABI.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::sim {
struct Host;
}

namespace mdevsim::sim::verify {

class DeviceInspector {
 public:
  explicit DeviceInspector(Host& h) : host_(h) {}
  virtual ~DeviceInspector() = default;

  // Field-by-field and page-by-page difference of two hosts' devices.
  static models::DeviceDiff compare(const DeviceInspector& a, const DeviceInspector& b,
                                    size_t max_listed = 16);
  const models::PageStore& vram() const;
  const models::PageStore& ram() const;
  bool vram_missing(uint64_t page) const;
  bool ram_missing(uint64_t page) const;
  uint64_t vram_missing_count() const;
  uint64_t ram_missing_count() const;
  uint64_t device_state_hash() const;
  bool device_and_vcpus_running() const;
  // Engine page operations and vCPU writes done so far.
  std::pair<uint64_t, uint64_t> work() const;
  // Post-copy: device pages placed after the switch, their stalls and faults.
  const std::vector<std::pair<uint64_t, uint64_t>>& vram_placed() const;
  const std::vector<double>& vram_stalls() const;
  const std::vector<double>& ram_stalls() const;
  uint64_t vram_faults() const;
  uint64_t ram_faults() const;
  const std::vector<models::MissingPages::FaultRecord>& vram_fault_log() const;
  const std::vector<models::MissingPages::FaultRecord>& ram_fault_log() const;

  // This host becomes a copy of `src` at its stop (the never-migrated reference).
  void clone_from(const DeviceInspector& src);
  // The continuation: the device (stopped by the migration) and the VM run on.
  virtual void resume_for_continuation();
  void set_vm_running(bool r);
  // Both frozen at one instant: stopped one after the other, the second
  // would run on for the first one's stop latency.
  static void stop_together(DeviceInspector& a, DeviceInspector& b);

 protected:
  Host& host_;
};

}  // namespace mdevsim::sim::verify
