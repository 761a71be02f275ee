// The guest driver (models/workload/src/workload_driver.cpp): what it hands
// the device follows the pattern's schedule over guest running time, it
// never submits to a stopped device (the work waits as its backlog), and
// its MMIO goes over the BAR0 TLM socket.
#include <cmath>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"

namespace mdevsim::models {
namespace {

using sc_core::SC_MS;
using sc_core::sc_time;

DeviceConfig device() {
  DeviceConfig c;
  c.vram_bytes = 64 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 4;
  c.stop_latency_s = 0;
  return c;
}

WorkloadSpec uniform(double rate, double dma_rate = 0) {
  WorkloadSpec w;
  w.vram.kind = PatternKind::kUniform;
  w.vram.rate_bytes_per_s = rate;
  w.dma_rate_bytes_per_s = dma_rate;
  return w;
}

TEST(WorkloadDriver, SubmitsWhatThePatternSchedulesByGuestTime) {
  GpuDevice dev("dev", device());
  WorkloadDriver drv("drv", dev, uniform(64.0 * (1 << 20)), 1);
  sc_core::sc_start(sc_time(100, SC_MS) + sc_time(1, sc_core::SC_US));
  // 100 ticks of 1 ms ran; 64 MiB/s of 64 KiB pages is 1024 writes/s.
  EXPECT_EQ(drv.state().active_ticks, 100u);
  EXPECT_DOUBLE_EQ(drv.active_time_s(), 0.1);
  EXPECT_EQ(drv.state().submitted_writes, drv.generator().writes_until(drv.active_time_s()));
  EXPECT_NEAR(static_cast<double>(drv.state().submitted_writes), 102.4, 1.0);
  EXPECT_EQ(drv.backlog(), 0u);
}

TEST(WorkloadDriver, APausedGuestNeitherAdvancesNorSubmits) {
  GpuDevice dev("dev", device());
  WorkloadDriver drv("drv", dev, uniform(64.0 * (1 << 20)), 1);
  drv.set_guest_running(false);
  sc_core::sc_start(sc_time(50, SC_MS));
  EXPECT_EQ(drv.state().active_ticks, 0u);
  EXPECT_EQ(drv.state().commands, 0u);
  EXPECT_EQ(dev.vram.store().writes(), 0u);
}

TEST(WorkloadDriver, AStoppedDeviceGetsNothingAndTheWorkWaitsAsBacklog) {
  GpuDevice dev("dev", device());
  WorkloadDriver drv("drv", dev, uniform(64.0 * (1 << 20)), 1);
  dev.set_running(false);
  sc_core::sc_start(sc_time(50, SC_MS) + sc_time(1, sc_core::SC_US));
  EXPECT_EQ(drv.state().active_ticks, 50u);  // the guest ran
  EXPECT_EQ(drv.state().submitted_writes, 0u);
  EXPECT_EQ(drv.backlog(), drv.generator().writes_until(drv.active_time_s()));
  dev.set_running(true);
  sc_core::sc_start(sc_time(1, SC_MS));
  EXPECT_EQ(drv.backlog(), 0u) << "the backlog goes in at the next tick";
}

TEST(WorkloadDriver, DmaIsSubmittedAtItsRateInGuestPages) {
  GpuDevice dev("dev", device());
  // 4 MiB/s of 4 KiB guest pages: 1024 pages/s.
  WorkloadDriver drv("drv", dev, uniform(64.0 * (1 << 20), 4.0 * (1 << 20)), 1);
  sc_core::sc_start(sc_time(100, SC_MS) + sc_time(1, sc_core::SC_US));
  EXPECT_EQ(drv.state().submitted_dma, static_cast<uint64_t>(std::floor(1024 * 0.1)));
}

}  // namespace
}  // namespace mdevsim::models
