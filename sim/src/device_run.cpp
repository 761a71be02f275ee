#include "mdevsim/sim/device_run.h"

#include <systemc>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/sim/run_outputs.h"

namespace mdevsim::sim {

namespace {
// Guest RAM as the device's DMA sees it; device-only runs just absorb writes.
class DiscardingGuestMemory : public models::GuestMemory {
 public:
  void dma_write_page(uint64_t, uint64_t) override { ++writes; }
  uint64_t writes = 0;
};
}  // namespace

Result run_device_only(const Scenario& s, RunRecorder* recorder) {
  models::GpuDevice dev("device", s.device.config);
  DiscardingGuestMemory guest;
  dev.attach_guest_memory(&guest);
  models::WorkloadDriver driver("driver", dev, s.workload, s.seed);
  // Dirty tracking from t=0 tells us how many distinct pages were touched.
  dev.vram.store().start_tracking();
  if (recorder) recorder->attach_device(dev);

  DeviceRunStats stats;
  constexpr int kSamples = 10;
  for (int i = 1; i <= kSamples; ++i) {
    const auto chunk = sc_core::sc_time::from_seconds(s.duration_s / kSamples);
    recorder ? recorder->simulate_for(chunk) : sc_core::sc_start(chunk);
    stats.unique_pages_over_time.emplace_back(s.duration_s * i / kSamples,
                                              dev.vram.store().dirty().count());
  }
  if (recorder) recorder->phase("src workload", "device run", 0, s.duration_s);
  stats.page_writes = dev.vram.store().writes();
  stats.unique_pages = dev.vram.store().dirty().count();
  stats.achieved_rate =
      static_cast<double>(stats.page_writes) * s.device.config.page_size / s.duration_s;

  Result r;
  r.scenario = s.name;
  r.seed = s.seed;
  r.outcome = "completed";
  r.total_time_s = s.duration_s;
  r.device_run = stats;
  return r;
}

}  // namespace mdevsim::sim
