// The interposer linked into the test binary: its open/ioctl/pread/... are
// the process's, so tests call the exported functions directly on the fake
// /dev/vfio paths. Each test runs in its own process (one simulated host).
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/vfio/uapi.h"

namespace mdevsim::testing {

// -errno of a failed call, or its result.
inline long rc(long r) { return r < 0 ? -errno : r; }

// Group 7 + container + device "testdev", as QEMU's realize sets them up.
struct VfioFds {
  int group = -1, container = -1, device = -1;
};

inline VfioFds open_device(const char* protocol = nullptr) {
  setenv("MDEVSIM_VFIO_DEVICE", "testdev", 1);
  if (protocol) setenv("MDEVSIM_VFIO_PROTOCOL", protocol, 1);
  VfioFds f;
  f.group = ::open("/dev/vfio/7", O_RDWR | O_CLOEXEC);
  f.container = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  EXPECT_GE(f.group, 0);
  EXPECT_GE(f.container, 0);
  EXPECT_EQ(::ioctl(f.group, VFIO_GROUP_SET_CONTAINER, &f.container), 0);
  EXPECT_EQ(::ioctl(f.container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  f.device = ::ioctl(f.group, VFIO_GROUP_GET_DEVICE_FD, "testdev");
  EXPECT_GE(f.device, 0);
  return f;
}

inline uint64_t region_offset(uint32_t index) { return uint64_t{index} << 40; }

inline vfio_region_info region_info(int device, uint32_t index) {
  vfio_region_info r{};
  r.argsz = sizeof r;
  r.index = index;
  EXPECT_EQ(::ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &r), 0) << "index " << index;
  return r;
}

}  // namespace mdevsim::testing
