// One part of the VM's state that migrates, in the shape of QEMU's
// SaveVMHandlers (migration/register.h): RAM (vmm/ram_saver.h) and each VFIO
// device (vmm/vfio_client.h). The driver (vmm/migration_driver.h) calls them
// in registration order.
#pragma once

#include <cstdint>

#include "mdevsim/sim/result.h"

namespace mdevsim::sim::vmm {

class SaveHandler {
 public:
  virtual ~SaveHandler() = default;
  virtual const char* name() const = 0;
  // save_setup: start tracking, enter the saving states. False: failed (reason set).
  virtual bool setup() = 0;
  // state_pending_estimate: what this iteration will send (collected now).
  virtual void pending_estimate(IterationResult& it) = 0;
  // save_live_iterate: sends it. False: failed, or the link's deadline cut it short.
  virtual bool iterate(IterationResult& it) = 0;
  // state_pending_exact: bytes left if the VM stopped now.
  virtual uint64_t pending_exact() = 0;
  // save_live_complete_precopy: with the VM stopped, everything left.
  virtual bool complete(StopCopyResult& sc) = 0;
};

}  // namespace mdevsim::sim::vmm
