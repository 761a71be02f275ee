// What the simulator watches of a migration without steering it: the
// verification oracle (sim/verify) behind an interface, so the VMM needs no
// view of the devices. Called at fixed points of the driver.
#pragma once

#include <cstdint>
#include <string>

namespace mdevsim::sim::vmm {

// What the VMM counted during post-copy, for the post-copy report.
struct PostcopyFigures {
  bool device_pages = false;
  std::string fault_delivery;
  double t_stop = 0, t_end = 0;
  uint64_t missing_vram_at_switch = 0, missing_ram_at_switch = 0;
  uint64_t ram_pages_fetched = 0, bytes = 0, device_bytes = 0;
  uint64_t device_record_bytes = 0;  // one device page record in the stream
  bool destination_refused = false;  // the destination would not leave post-copy
};

class MigrationObserver {
 public:
  virtual ~MigrationObserver() = default;
  // Post-copy: the destination has just started with pages still missing.
  virtual void postcopy_switched() = 0;
  virtual void postcopy_sample() = 0;  // about every 1 ms of post-copy
  virtual void postcopy_finished(const PostcopyFigures& f) = 0;
  // Pre-copy: the destination runs; the oracle checks it (may take time).
  virtual void precopy_switched() = 0;
  // Cancel: the source's state before it resumed, and whether it runs again.
  virtual uint64_t source_state_hash() const = 0;
  virtual bool source_running() const = 0;
};

}  // namespace mdevsim::sim::vmm
