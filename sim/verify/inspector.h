// What the verification oracle sees of one host: its device through the
// device type's models::DeviceInspector (made by the device factory), and
// its guest RAM and vCPUs, read for comparison; plus the few simulator-side
// actions an oracle needs (clone the reference, let a run continue, freeze
// it). The VMM never uses this: it sees devices only through the VFIO ABI.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "mdevsim/models/factory/device_inspector.h"
#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::sim {
class Host;
}

namespace mdevsim::sim::verify {

class HostInspector {
 public:
  explicit HostInspector(Host& h);
  virtual ~HostInspector();

  models::DeviceInspector& device() { return *device_; }
  const models::DeviceInspector& device() const { return *device_; }

  const models::PageStore& ram() const;
  bool ram_missing(uint64_t page) const;
  uint64_t ram_missing_count() const;
  const std::vector<double>& ram_stalls() const;
  uint64_t ram_faults() const;
  const std::vector<models::MissingPages::FaultRecord>& ram_fault_log() const;
  bool device_and_vcpus_running() const;
  // Device engine pages and vCPU page operations done so far.
  std::pair<uint64_t, uint64_t> work() const;

  // This host becomes a copy of `src` at its stop (the never-migrated reference).
  void clone_from(const HostInspector& src);
  // The continuation: the device (stopped by the migration) and the VM run on.
  virtual void resume_for_continuation();
  void set_vm_running(bool r);
  // Both devices frozen at one instant: stopped one after the other, the
  // second would run on for the first one's stop latency.
  static void stop_together(HostInspector& a, HostInspector& b);

 protected:
  Host& host_;

 private:
  std::unique_ptr<models::DeviceInspector> device_;
};

}  // namespace mdevsim::sim::verify
