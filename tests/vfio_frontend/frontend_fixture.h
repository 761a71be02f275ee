// Helpers that issue frontend calls the way a VMM does, with kernel structs.
#pragma once

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/uapi.h"
#include "vmm/abi_calls.h"

namespace mdevsim::vfio::testing {

inline models::DeviceConfig test_device_config() {
  models::DeviceConfig c;
  c.vram_bytes = 256 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 4;
  c.dma_buffer_bytes = 1 << 20;
  return c;
}

inline models::WorkloadSpec test_workload() {
  models::WorkloadSpec w;
  w.vram.kind = models::PatternKind::kHotset;
  w.vram.rate_bytes_per_s = 512.0 * (1 << 20);
  w.dma_rate_bytes_per_s = 4 << 20;
  return w;
}

using vfio::FeatureBuf;

// 64 MiB of guest RAM mapped 1:1 at IOVA 0; the device's DMA buffer (1 MiB)
// is pinned at 0.
inline FrontendOptions ram_options() {
  FrontendOptions o;
  o.guest_ram_bytes = uint64_t{64} << 20;
  return o;
}

// The VMM's calls (sim/vmm/abi_calls.h) with the v2 state enum.
inline long set_state(Frontend& fe, MigState s, int* data_fd = nullptr) {
  return vmm::set_device_state(fe, static_cast<uint32_t>(s), data_fd);
}

inline MigState get_state(Frontend& fe) {
  uint32_t state = 0;
  int data_fd = 0;
  EXPECT_EQ(vmm::get_device_state(fe, state, &data_fd), 0);
  EXPECT_EQ(data_fd, -1);
  return static_cast<MigState>(state);
}

// Records every call's path so tests can check which single arcs ran.
class PathRecorder : public CallObserver {
 public:
  void on_call(const CallRecord& r) override { last = r; }
  CallRecord last;
};

// Two devices (source, destination) with frontends.
struct Pair {
  explicit Pair(FrontendOptions opt = {}, models::DeviceConfig cfg = test_device_config())
      : src_model(models::make_device("gpu", "src", cfg)),
        dst_model(models::make_device("gpu", "dst", cfg)),
        driver(models::make_guest_driver("drv", *src_model, test_workload(), 7)),
        src_dev(dynamic_cast<models::GpuDevice&>(*src_model)),
        dst_dev(dynamic_cast<models::GpuDevice&>(*dst_model)),
        src(src_dev, opt),
        dst(dst_dev, opt) {}
  std::unique_ptr<models::Device> src_model, dst_model;
  std::unique_ptr<models::GuestDriver> driver;
  // GPU views: these tests read the GPU's VRAM and configuration.
  models::GpuDevice& src_dev;
  models::GpuDevice& dst_dev;
  Frontend src, dst;
};

}  // namespace mdevsim::vfio::testing
