// The device fd ioctls both protocols share (device_ioctl.cpp): device and
// region info, reset, and unknown requests.
#include <cerrno>

#include <gtest/gtest.h>

#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/uapi.h"
#include "recording_device.h"

namespace mdevsim::vfio::testing {
namespace {

vfio_device_info device_info(Frontend& fe) {
  vfio_device_info info{};
  info.argsz = sizeof info;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_INFO, &info), 0);
  return info;
}

TEST(FrontendDeviceIoctl, DeviceInfoCountsTheMigrationRegionOnlyForV1) {
  RecordingDevice dev;
  Frontend v2(dev, {});
  FrontendOptions o1;
  o1.protocol = Protocol::kV1;
  Frontend v1(dev, o1);
  const auto i2 = device_info(v2), i1 = device_info(v1);
  EXPECT_EQ(i2.flags, uint32_t{VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET});
  EXPECT_EQ(i2.num_regions, uint32_t{VFIO_PCI_NUM_REGIONS});
  EXPECT_EQ(i1.num_regions, uint32_t{VFIO_PCI_NUM_REGIONS} + 1);
  EXPECT_EQ(i2.num_irqs, uint32_t{VFIO_PCI_NUM_IRQS});
  vfio_region_info r{};
  r.argsz = sizeof r;
  r.index = VFIO_PCI_NUM_REGIONS;
  EXPECT_EQ(v2.ioctl(v2.device_fd(), VFIO_DEVICE_GET_REGION_INFO, &r), -EINVAL)
      << "no migration region in v2";
  EXPECT_EQ(v1.ioctl(v1.device_fd(), VFIO_DEVICE_GET_REGION_INFO, &r), 0);
  EXPECT_EQ(r.offset, uint64_t{VFIO_PCI_NUM_REGIONS} << 40) << "vfio-pci's offset convention";
  vfio_device_info small{};
  small.argsz = 8;
  EXPECT_EQ(v2.ioctl(v2.device_fd(), VFIO_DEVICE_GET_INFO, &small), -EINVAL);
  EXPECT_EQ(v2.ioctl(v2.device_fd(), VFIO_DEVICE_GET_INFO, nullptr), -EFAULT);
  EXPECT_EQ(v2.ioctl(v2.device_fd(), VFIO_IOMMU_MAP_DMA, &small), -ENOTTY)
      << "a container ioctl on the device fd";
}

TEST(FrontendDeviceIoctl, ResetEndsTheSessionAndReturnsToTheDefaultState) {
  RecordingDevice dev;
  Frontend fe(dev, {});
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_SET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  b.payload.device_state = VFIO_DEVICE_STATE_STOP_COPY;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b), 0);
  const int fd = b.payload.data_fd;
  EXPECT_FALSE(dev.running());
  dev.log.clear();
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_RESET, nullptr), 0);
  EXPECT_EQ(dev.log, (std::vector<std::string>{"reset"}));
  EXPECT_TRUE(dev.running());
  EXPECT_EQ(fe.state_name(), "RUNNING");
  uint8_t buf[4];
  EXPECT_EQ(fe.read(fd, buf, sizeof buf), -ENODEV);
}

// Issue 12: vfio_pci_ioctl_get_region_info(): a large enough argsz is left as passed.
TEST(KernelAbi, RegionAndDeviceInfoLeaveABigEnoughArgszAlone) {
  RecordingDevice dev;
  FrontendOptions o;
  o.protocol = Protocol::kV1;
  Frontend fe(dev, o);
  alignas(8) uint8_t buf[256] = {};
  auto* info = reinterpret_cast<vfio_region_info*>(buf);
  info->argsz = sizeof buf;
  info->index = VFIO_PCI_NUM_REGIONS;  // the v1 migration region, with capabilities
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_REGION_INFO, buf), 0);
  EXPECT_EQ(info->argsz, sizeof buf);
  EXPECT_EQ(info->cap_offset, sizeof(vfio_region_info));
  vfio_region_info small{};
  small.argsz = sizeof small;
  small.index = VFIO_PCI_NUM_REGIONS;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_REGION_INFO, &small), 0);
  EXPECT_EQ(small.argsz, 80u) << "too small: raised to the size needed";
  alignas(8) uint8_t dbuf[64] = {};
  auto* dinfo = reinterpret_cast<vfio_device_info*>(dbuf);
  dinfo->argsz = sizeof dbuf;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_INFO, dbuf), 0);
  EXPECT_EQ(dinfo->argsz, sizeof dbuf);
}

}  // namespace
}  // namespace mdevsim::vfio::testing
