// The qemu loop's device estimate (sim/vmm/migration_thread.cpp) as QEMU
// 10.0 keeps it (hw/vfio/migration.c): PRECOPY_INFO is read at setup and at
// each exact query, and in between the estimate only falls by what was read
// (vfio_update_estimated_pending_data), so bytes the device dirties
// meanwhile are not seen until the next exact query. A fake device with
// 100.5 MiB of initial bytes that dirties 20 MB/s more; the arithmetic below is
// QEMU's, by hand.
#include <algorithm>
#include <limits>

#include <gtest/gtest.h>
#include <systemc>

#include "vmm/migration_driver.h"
#include "vmm/migration_thread.h"
#include "vmm_fakes.h"

namespace {

using namespace mdevsim::sim;
using namespace mdevsim::sim::vmm;
using namespace mdevsim::sim::vmm::fakes;

constexpr uint64_t kPage = 4096, kMiB = 1 << 20;
constexpr uint64_t kInitial = 100 * kMiB + kMiB / 2;  // clear of the threshold at every read
constexpr double kDirtyRate = 20e6;                   // bytes/s, from time 0

double now_s() { return sc_core::sc_time_stamp().to_seconds(); }

struct Log {
  uint64_t sent = 0;
  double first_exact_s = -1;
  uint64_t first_exact_pending = 0;
  int exact_calls = 0;
};

// What the device holds unread: its initial bytes and everything it dirtied,
// less what was read; its stop-copy size is the same.
class DirtyingDevice : public QuietVfioClient {
 public:
  DirtyingDevice(MigrationContext& ctx, Log& log)
      : QuietVfioClient(ctx, mdevsim::vfio::builtin_protocol_v2()), log_(log) {}
  uint64_t unread() const {
    return kInitial + static_cast<uint64_t>(kDirtyRate * now_s()) - log_.sent;
  }
  bool setup() override { return true; }
  void pending_estimate(IterationResult&) override {}
  bool iterate(IterationResult&) override { return false; }
  uint64_t pending_exact() override {
    if (log_.exact_calls++ == 0) {
      log_.first_exact_s = now_s();
      log_.first_exact_pending = unread();
    }
    return unread();
  }
  uint64_t precopy_bytes() override { return unread(); }  // PRECOPY_INFO, fresh
  uint64_t initial_bytes() override { return kInitial - std::min(kInitial, log_.sent); }
  bool iterate_chunk(IterationResult& it, uint64_t max) override {
    const uint64_t n = std::min(max, unread());
    if (!ctx_.link.transfer(n, false)) return false;
    log_.sent += n;
    it.device_bytes += n;
    return true;
  }
  bool complete(StopCopyResult& sc) override {
    const uint64_t n = unread();
    if (!ctx_.link.transfer(n, false)) return false;
    sc.device_bytes += n;
    return true;
  }

 private:
  Log& log_;
};

TEST(MigrationThreadEstimate, DirtyingIsSeenOnlyAtTheExactQuery) {
  const Scenario s = qemu_loop_scenario(1e9, kPage, 1);
  Result result;
  FakeRam src_ram(1), dst_ram(1);
  FakeVm src_vm, dst_vm;
  FakeObserver observer;
  observer.result = &result;
  dst_vm.running = false;
  Log log;
  MigrationDriver driver("migration", s, nullptr, false, {nullptr, src_ram, src_vm},
                         {nullptr, dst_ram, dst_vm}, observer, result, [&](MigrationContext& ctx) {
                           return std::make_unique<DirtyingDevice>(ctx, log);
                         });
  sc_core::sc_start();
  ASSERT_EQ(result.outcome, "completed") << result.reason;
  // A window moves ten 1 MiB reads (the tenth crosses the 10 MB budget) in
  // 10.5 ms at 1 GB/s, then sleeps: threshold = 10 MiB / 0.1 s × 0.3 s =
  // 30 MiB. The estimate, 100.5 MiB less what was read, first falls below
  // it at the 71st read (29.5 MiB left), the first read of the eighth window:
  // t = 0.7 s + 1 MiB / 1 GB/s. (A fresh PRECOPY_INFO each time would add
  // the 20 MB/s of dirtying and put that query at 0.806 s.)
  EXPECT_NEAR(log.first_exact_s, 0.7 + kMiB / 1e9, 1e-6);
  // Its pending: the 29.5 MiB left and the 14 MB dirtied so far, above the
  // threshold, so the loop goes on from there (with that as its estimate).
  EXPECT_NEAR(static_cast<double>(log.first_exact_pending),
              29.5 * kMiB + kDirtyRate * (0.7 + kMiB / 1e9), 1.0);
  EXPECT_GT(log.exact_calls, 1);
  EXPECT_EQ(result.iterations.front().remaining_bytes, log.first_exact_pending);
}

}  // namespace
