// QEMU's migration thread (migration/migration.c: migration_thread,
// migration_iteration_run, migration_rate_limit, migration_update_counters),
// selected by `migration.loop: qemu`; the driver (vmm/migration_driver.h)
// runs it instead of whole passes and does the switch itself.
//
// Each time round the loop: the pending estimate (RAM's unsent pages of the
// pass under way + the device's pre-copy bytes); when it is below
// threshold_size the exact pending (RAM dirty-bitmap sync + the device's
// stop-copy size); switch when that is 0 or below the threshold (and the
// destination has acked, with switchover_ack). Otherwise one round of
// iterate calls: RAM's first (at most 50 ms of line rate, QEMU's MAX_WAIT),
// then, only if RAM finished its pass and the window's budget is not spent,
// one device read of at most 1 MiB. Bytes go at line rate; with a rate limit
// the loop sleeps to the end of the 100 ms window once the window's
// max-bandwidth / 10 is spent. At the end of every window (BUFFER_DELAY):
// bandwidth = bytes / time, threshold_size = bandwidth × downtime_limit.
// With multifd (vmm/multifd.h) RAM's pages go to the channels (counted as
// sent when a channel takes them) while the loop goes on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/context.h"
#include "vmm/convergence.h"
#include "vmm/ports.h"
#include "vmm/ram_saver.h"
#include "vmm/vfio_client.h"

namespace mdevsim::sim::vmm {

inline constexpr double kBufferDelay = 0.1;           // QEMU's BUFFER_DELAY: 100 ms windows
inline constexpr double kRamMaxWait = 0.05;           // ram_save_iterate's MAX_WAIT
inline constexpr uint64_t kDeviceReadSize = 1 << 20;  // VFIO_MIG_DEFAULT_DATA_BUFFER_SIZE

// The pending sum QEMU compares with the threshold, by handler.
struct Pending {
  uint64_t ram = 0, device = 0;
  uint64_t total() const { return ram + device; }
};

// The device's exact contribution (vfio_state_pending_exact). QEMU 8.1 to
// 9.1 added the pre-copy bytes (initial + dirty) to the stop-copy size;
// commit 3b5948f808e3 ("vfio/migration: Report only stop-copy size in
// vfio_state_pending_exact()", Oct 2024; in 9.2 and stable 9.0.4 / 9.1.2)
// counts the stop-copy size only.
inline uint64_t device_exact_pending(QemuPolicy p, uint64_t stop_copy, uint64_t precopy) {
  return p == QemuPolicy::k8_1 ? stop_copy + precopy : stop_copy;
}

class MigrationThread {
 public:
  MigrationThread(MigrationContext& ctx, RamSaver& ram, VfioClient& device, GuestRamPort& src_ram,
                  VmPort& src_vm);
  // Runs pre-copy from now (the migration started at t0) until the loop
  // decides: kConverged or kForced (the caller switches), kCancel (`why`
  // says why), or kNone: a failure (ctx.reason set). Iterations (one per
  // RAM dirty sync, QEMU's dirty-sync-count) go into ctx.result.
  Switchover run(double t0, std::string& why);

  // Figures of the last window, for tests.
  double threshold_bytes() const { return threshold_; }

 private:
  uint64_t ram_left() const;
  Pending exact();
  bool ram_iterate(uint64_t budget);
  bool sync_multifd();
  double ram_pace() const;
  void close_iteration(uint64_t pending, bool synced);
  void update_counters();
  void hand_back_unsent();
  void take_batch(uint64_t budget);

  MigrationContext& ctx_;
  RamSaver& ram_;
  VfioClient& device_;
  GuestRamPort& src_ram_;
  VmPort& src_vm_;
  const MigrationSection& cfg_;
  // The pass under way as one bit per unsent page (a 1 TiB VM's pass is
  // 32 MiB, not 2 GiB of page numbers); pass_.count is the unsent count.
  // Sent pages are cleared, so no bit before word cursor_ is set.
  PageBits pass_;
  size_t cursor_ = 0;            // first word of pass_ that may hold an unsent page
  std::vector<uint64_t> batch_;  // one ram_iterate's pages (its budget's worth), reused
  uint64_t zero_left_ = 0;       // first pass: zero-page headers not yet sent
  uint64_t dev_pre_ = 0;         // device pre-copy bytes, as last queried
  uint64_t synced_new_ = 0;      // pages the last sync found dirty
  double window_start_ = 0, bandwidth_ = 0, threshold_ = 0;
  uint64_t window_bytes_ = 0;
  IterationResult it_;
  AutoConverge throttle_;
};

}  // namespace mdevsim::sim::vmm
