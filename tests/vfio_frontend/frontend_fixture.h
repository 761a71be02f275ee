// Helpers that issue frontend calls the way a VMM does, with kernel structs.
#pragma once

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/uapi.h"

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

inline long set_state(Frontend& fe, MigState s, int* data_fd = nullptr) {
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_SET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  b.payload.device_state = static_cast<uint32_t>(s);
  b.payload.data_fd = 12345;
  const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b);
  if (data_fd) *data_fd = b.payload.data_fd;
  return r;
}

inline MigState get_state(Frontend& fe) {
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_GET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b), 0);
  EXPECT_EQ(b.payload.data_fd, -1);
  return static_cast<MigState>(b.payload.device_state);
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
      : src_dev("src", cfg),
        dst_dev("dst", cfg),
        driver("drv", src_dev, test_workload(), 7),
        src(src_dev, opt),
        dst(dst_dev, opt) {}
  models::GpuDevice src_dev, dst_dev;
  models::WorkloadDriver driver;
  Frontend src, dst;
};

}  // namespace mdevsim::vfio::testing
