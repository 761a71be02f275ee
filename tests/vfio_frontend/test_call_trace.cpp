// The call trace (call_trace.cpp): every frontend call is recorded once,
// with its fd kind, decoded request, result, states and the rules that
// decided it, and is counted per call kind and per errno name.
#include <cerrno>

#include <gtest/gtest.h>

#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/uapi.h"
#include "recording_device.h"

namespace mdevsim::vfio::testing {
namespace {

class Calls : public CallObserver {
 public:
  void on_call(const CallRecord& r) override { all.push_back(r); }
  std::vector<CallRecord> all;
};

uint64_t count_of(const std::vector<std::pair<std::string, uint64_t>>& v, const std::string& k) {
  for (const auto& [name, n] : v)
    if (name == k) return n;
  return 0;
}

TEST(FrontendCallTrace, ErrnoNamesAreTheKernelMacros) {
  EXPECT_EQ(errno_name(EINVAL), "EINVAL");
  EXPECT_EQ(errno_name(ENOTTY), "ENOTTY");
  EXPECT_EQ(errno_name(ENOMSG), "ENOMSG");
  EXPECT_EQ(errno_name(ENODEV), "ENODEV");
  EXPECT_EQ(errno_name(EOVERFLOW), "EOVERFLOW");
  EXPECT_EQ(errno_name(9999), "E9999") << "an errno the frontend never returns";
}

TEST(FrontendCallTrace, EachCallIsRecordedOnceWithItsOutcome) {
  RecordingDevice dev;
  Frontend fe(dev, {});
  Calls calls;
  fe.set_observer(&calls);
  EXPECT_EQ(fe.ioctl(fe.container_fd(), VFIO_GET_API_VERSION, nullptr), VFIO_API_VERSION);
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_SET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  b.payload.device_state = VFIO_DEVICE_STATE_STOP;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b), 0);
  EXPECT_EQ(fe.ioctl(99, VFIO_DEVICE_FEATURE, &b), -EBADF);
  ASSERT_EQ(calls.all.size(), 3u);

  EXPECT_EQ(calls.all[0].call, "ioctl");
  EXPECT_EQ(calls.all[0].fd_kind, "container");
  EXPECT_EQ(calls.all[0].request, "VFIO_GET_API_VERSION");
  EXPECT_EQ(calls.all[0].ret, VFIO_API_VERSION);

  const CallRecord& set = calls.all[1];
  EXPECT_EQ(set.fd_kind, "device");
  EXPECT_EQ(set.request, "VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE)");
  EXPECT_EQ(set.args, "device_state=STOP");
  EXPECT_EQ(set.state_before, "RUNNING");
  EXPECT_EQ(set.state_after, "STOP");
  EXPECT_EQ(set.path, (std::vector<std::string>{"RUNNING", "RUNNING_P2P", "STOP"}));
  EXPECT_FALSE(set.notes.empty());

  EXPECT_EQ(calls.all[2].fd_kind, "unknown");
  EXPECT_EQ(calls.all[2].ret, -EBADF);
  EXPECT_EQ(calls.all[2].notes, (std::vector<std::string>{"EBADF: no such fd"}));

  // Counted by call and request name without its arguments, and by errno name.
  EXPECT_EQ(count_of(fe.call_counts(), "ioctl VFIO_GET_API_VERSION"), 1u);
  EXPECT_EQ(count_of(fe.call_counts(), "ioctl VFIO_DEVICE_FEATURE"), 1u)
      << "a call on no fd is never decoded";
  uint64_t total = 0;
  for (const auto& [name, n] : fe.call_counts()) total += n;
  EXPECT_EQ(total, 3u);
  EXPECT_EQ(count_of(fe.errno_counts(), "EBADF"), 1u);
  EXPECT_EQ(fe.errno_counts().size(), 1u);
}

}  // namespace
}  // namespace mdevsim::vfio::testing
