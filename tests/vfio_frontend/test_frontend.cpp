// The entry points (frontend.cpp): which fd a call names decides what it
// means and which errno a wrong fd gets, as in the kernel.
#include <cerrno>

#include <gtest/gtest.h>

#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/uapi.h"
#include "recording_device.h"

namespace mdevsim::vfio::testing {
namespace {

int open_stop_copy(Frontend& fe) {
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_SET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  b.payload.device_state = VFIO_DEVICE_STATE_STOP_COPY;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b), 0);
  return b.payload.data_fd;
}

TEST(FrontendFds, EachFdKindAnswersOnlyItsOwnCalls) {
  RecordingDevice dev;
  Frontend fe(dev, {});
  EXPECT_NE(fe.container_fd(), fe.device_fd());
  const int data = open_stop_copy(fe);
  ASSERT_GE(data, 0);
  EXPECT_NE(data, fe.device_fd());
  uint8_t b[8];
  // Data fds are streams: no positioned I/O.
  EXPECT_EQ(fe.pread(data, b, 4, 0), -ESPIPE);
  EXPECT_EQ(fe.pwrite(data, b, 4, 0), -ESPIPE);
  // The container has no regions; an fd that is nothing is EBADF.
  EXPECT_EQ(fe.pread(fe.container_fd(), b, 4, 0), -EINVAL);
  EXPECT_EQ(fe.pread(77, b, 4, 0), -EBADF);
  // read/write belong to data fds.
  EXPECT_EQ(fe.read(fe.device_fd(), b, 4), -EINVAL);
  EXPECT_EQ(fe.write(fe.container_fd(), b, 4), -EINVAL);
  EXPECT_EQ(fe.read(77, b, 4), -EBADF);
  EXPECT_EQ(fe.ioctl(77, VFIO_GET_API_VERSION, nullptr), -EBADF);
  // The same number means different ioctls on different fds.
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_GET_API_VERSION, nullptr), -ENOTTY);
  EXPECT_EQ(fe.ioctl(data, VFIO_GET_API_VERSION, nullptr), -ENOTTY);
  EXPECT_EQ(fe.read(data, b, sizeof b), 8) << "the save fd streams";
}

TEST(FrontendFds, CloseDropsTheFdButNotTheState) {
  RecordingDevice dev;
  Frontend fe(dev, {});
  const int data = open_stop_copy(fe);
  EXPECT_EQ(fe.close(data), 0);
  EXPECT_EQ(fe.close(data), -EBADF);
  EXPECT_EQ(fe.close(fe.device_fd()), -EBADF) << "only data fds are closed through the frontend";
  EXPECT_EQ(fe.state_name(), "STOP_COPY");
  EXPECT_EQ(fe.state_value(), uint32_t{VFIO_DEVICE_STATE_STOP_COPY});
  EXPECT_EQ(fe.mmap(fe.device_fd(), 0, 4096), nullptr) << "v2 has no mmap-able migration region";
}

}  // namespace
}  // namespace mdevsim::vfio::testing
