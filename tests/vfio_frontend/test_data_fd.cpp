// Protocol v2 data fds (data_fd.cpp): read/write rules of save and resume
// fds, pre-copy's temporary end of stream, rejected images, and a full
// migration by byte copy and by the splice path.
#include "frontend_fixture.h"

namespace mdevsim::vfio {
namespace {

using namespace mdevsim::vfio::testing;
using sc_core::sc_time;

TEST(FrontendV2, DataFdRules) {
  Pair p;
  sc_core::sc_start(sc_time(20, sc_core::SC_MS));
  int save = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &save), 0);
  std::vector<uint8_t> buf(1 << 20);
  EXPECT_EQ(p.src.pread(save, buf.data(), 16, 0), -ESPIPE);
  EXPECT_EQ(p.src.pwrite(save, buf.data(), 16, 0), -ESPIPE);
  EXPECT_EQ(p.src.write(save, buf.data(), 16), -EBADF) << "save fd is read-only";
  EXPECT_EQ(p.src.ioctl(save, VFIO_DEVICE_RESET, nullptr), -ENOTTY);
  vfio_precopy_info info{};
  info.argsz = 16;
  EXPECT_EQ(p.src.ioctl(save, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL) << "argsz < 24";
  info.argsz = sizeof(info);
  ASSERT_EQ(p.src.ioctl(save, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
  EXPECT_GT(info.initial_bytes, 0u);
  EXPECT_EQ(info.dirty_bytes, 0u) << "nothing re-dirtied yet (the device did not run)";
  // Drain everything available now, then: ENOMSG (temporary end of stream).
  long n;
  uint64_t total = 0;
  while ((n = p.src.read(save, buf.data(), buf.size())) > 0) total += n;
  EXPECT_EQ(n, -ENOMSG);
  ASSERT_EQ(p.src.ioctl(save, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
  EXPECT_EQ(info.initial_bytes, 0u);
  EXPECT_GE(total, 1u);
  // The device runs on: pages get dirty again.
  sc_core::sc_start(sc_time(20, sc_core::SC_MS));
  ASSERT_EQ(p.src.ioctl(save, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
  EXPECT_GT(info.dirty_bytes, 0u);
  // STOP_COPY: same fd, data then 0 forever; PRECOPY_INFO now EINVAL.
  int same = 0;
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy, &same), 0);
  EXPECT_EQ(same, -1) << "moving inside the saving group keeps the fd";
  EXPECT_EQ(p.src.ioctl(save, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL);
  while ((n = p.src.read(save, buf.data(), buf.size())) > 0) {
  }
  EXPECT_EQ(n, 0);
  EXPECT_EQ(p.src.read(save, buf.data(), buf.size()), 0) << "EOF is permanent";
  // Reset: back to RUNNING and the fd is dead.
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_RESET, nullptr), 0);
  EXPECT_EQ(get_state(p.src), MigState::kRunning);
  EXPECT_EQ(p.src.read(save, buf.data(), 8), -ENODEV);
  EXPECT_EQ(p.src.close(save), 0);
  EXPECT_EQ(p.src.close(save), -EBADF);
  EXPECT_EQ(p.src.read(999, buf.data(), 8), -EBADF);
}

TEST(FrontendV2, PreCopyEmptyReadCanBeZeroLikeMtty) {
  FrontendOptions o;
  o.precopy_empty_enomsg = false;
  Pair p(o);
  int save = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &save), 0);
  std::vector<uint8_t> buf(1 << 20);
  long n;
  while ((n = p.src.read(save, buf.data(), buf.size())) > 0) {
  }
  EXPECT_EQ(n, 0);
}

TEST(FrontendV2, ResumeFdRulesAndRejectedImages) {
  Pair p;
  int resume = -1;
  ASSERT_EQ(set_state(p.dst, MigState::kResuming, &resume), 0);
  char junk[64] = {1, 2, 3};
  EXPECT_EQ(p.dst.read(resume, junk, 8), -EBADF) << "resume fd is write-only";
  EXPECT_EQ(p.dst.ioctl(resume, VFIO_MIG_GET_PRECOPY_INFO, junk), -ENOTTY);
  EXPECT_EQ(p.dst.write(resume, junk, sizeof junk), -EFAULT) << "not our stream: bad header";
  EXPECT_EQ(p.dst.write(resume, junk, 1), -EFAULT) << "a failed stream stays failed";
  EXPECT_EQ(set_state(p.dst, MigState::kRunning), -EINVAL)
      << "RESUMING -> STOP validates and fails";
  EXPECT_EQ(get_state(p.dst), MigState::kError);
  EXPECT_EQ(set_state(p.dst, MigState::kRunning), -EINVAL) << "only reset leaves ERROR";
  ASSERT_EQ(p.dst.ioctl(p.dst.device_fd(), VFIO_DEVICE_RESET, nullptr), 0);
  EXPECT_EQ(get_state(p.dst), MigState::kRunning);
  // A truncated image: RESUMING -> STOP fails.
  int save = -1;
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy, &save), 0);
  std::vector<uint8_t> buf(1 << 20);
  const long n = p.src.read(save, buf.data(), buf.size());
  ASSERT_GT(n, 10);
  ASSERT_EQ(set_state(p.dst, MigState::kResuming, &resume), 0);
  EXPECT_EQ(p.dst.write(resume, buf.data(), n - 10), n - 10);  // all but the end
  EXPECT_EQ(set_state(p.dst, MigState::kStop), -EINVAL);
  EXPECT_EQ(p.dst.write(resume, buf.data(), 1), -ENODEV) << "session over";
}

// Source: RUNNING -> PRE_COPY -> (iterate) -> STOP_COPY -> STOP;
// destination: RESUMING -> RUNNING. Byte path and splice path.
void migrate(bool splice) {
  Pair p;
  p.dst_dev.set_running(false);
  sc_core::sc_start(sc_time(30, sc_core::SC_MS));
  int save = -1, resume = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &save), 0);
  ASSERT_EQ(set_state(p.dst, MigState::kResuming, &resume), 0);
  std::vector<uint8_t> buf(1 << 20);
  auto pump = [&]() -> long {
    for (;;) {
      const long n = splice ? p.src.splice_to(save, p.dst, resume, buf.size())
                            : p.src.read(save, buf.data(), buf.size());
      if (n <= 0) return n;
      if (!splice && p.dst.write(resume, buf.data(), n) != n) return -9999;
    }
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pump(), -ENOMSG);
    sc_core::sc_start(sc_time(10, sc_core::SC_MS));
  }
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy), 0);
  EXPECT_EQ(pump(), 0);
  ASSERT_EQ(set_state(p.src, MigState::kStop), 0);
  PathRecorder rec;
  p.dst.set_observer(&rec);
  ASSERT_EQ(set_state(p.dst, MigState::kRunning), 0);
  EXPECT_EQ(rec.last.path,
            (std::vector<std::string>{"RESUMING", "STOP", "RUNNING_P2P", "RUNNING"}));
  p.dst_dev.set_running(false);
  const auto diff = models::compare_devices(p.src_dev, p.dst_dev);
  EXPECT_TRUE(diff.equal()) << (diff.differences.empty() ? "" : diff.differences[0]);
  EXPECT_GT(p.src_dev.vram.store().touched_pages(), 100u);
}

TEST(FrontendV2, CompleteMigrationByteCopyPath) { migrate(false); }
TEST(FrontendV2, CompleteMigrationSplicePath) { migrate(true); }

TEST(FrontendV2, CorruptedSaveStreamIsRejectedByTheDestination) {
  FrontendOptions o;
  o.corrupt_save_stream_at = 100;
  Pair p(o);
  sc_core::sc_start(sc_time(10, sc_core::SC_MS));
  int save = -1, resume = -1;
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy, &save), 0);
  ASSERT_EQ(set_state(p.dst, MigState::kResuming, &resume), 0);
  std::vector<uint8_t> buf(1 << 20);
  long n, w = 0;
  while ((n = p.src.read(save, buf.data(), buf.size())) > 0) {
    w = p.dst.write(resume, buf.data(), n);
    if (w < 0) break;
  }
  const bool rejected = w < 0 || set_state(p.dst, MigState::kStop) < 0;
  EXPECT_TRUE(rejected);
}

// Issue 12: mtty_precopy_ioctl(): the device state is checked before the file's
// disabled flag, so a fd that left the saving group gets EINVAL, not ENODEV.
TEST(KernelAbi, PrecopyInfoChecksTheStateBeforeTheDisabledFd) {
  Pair p;
  int old_fd = -1, new_fd = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &old_fd), 0);
  ASSERT_EQ(set_state(p.src, MigState::kRunning), 0);  // leaves the saving group: fd disabled
  vfio_precopy_info info{};
  info.argsz = sizeof info;
  EXPECT_EQ(p.src.ioctl(old_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL)
      << "RUNNING is checked first";
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &new_fd), 0);
  ASSERT_NE(new_fd, old_fd);
  EXPECT_EQ(p.src.ioctl(old_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -ENODEV)
      << "in PRE_COPY again, the old fd is the one at fault";
  EXPECT_EQ(p.src.ioctl(new_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
}

}  // namespace
}  // namespace mdevsim::vfio
