// Protocol v2 through the frontend: feature-ioctl core checks, state
// changes, data fds, PRECOPY_INFO, reset, faults, and a full migration.
#include "frontend_fixture.h"

namespace mdevsim::vfio {
namespace {

using namespace mdevsim::vfio::testing;
using sc_core::sc_time;

TEST(FrontendV2, FeatureHeaderChecks) {
  Pair p;
  auto& fe = p.src;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, nullptr), -EFAULT);
  FeatureBuf<vfio_device_feature_migration> small(
      VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 7);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &small), -EINVAL) << "argsz < 8";
  FeatureBuf<vfio_device_feature_migration> badflags(VFIO_DEVICE_FEATURE_GET |
                                                     VFIO_DEVICE_FEATURE_MIGRATION | (1u << 20));
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &badflags), -EINVAL)
      << "unknown flag bits";
  FeatureBuf<vfio_device_feature_mig_state> both(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
                                                 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &both), -EINVAL)
      << "GET|SET without PROBE";
  FeatureBuf<vfio_device_feature_migration> none(VFIO_DEVICE_FEATURE_MIGRATION);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &none), -EINVAL) << "neither GET nor SET";
  FeatureBuf<vfio_device_feature_migration> setmig(VFIO_DEVICE_FEATURE_SET |
                                                   VFIO_DEVICE_FEATURE_MIGRATION);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &setmig), -EINVAL)
      << "MIGRATION is GET-only";
  FeatureBuf<vfio_device_feature_migration> shortpl(
      VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 12);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &shortpl), -EINVAL)
      << "payload too small";
  FeatureBuf<uint64_t> unknown(VFIO_DEVICE_FEATURE_GET | 42);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &unknown), -ENOTTY)
      << "mdev without device_feature op (current kernels; test_kernel_abi has both)";
  // PROBE: 0, nothing done; PROBE of an unsupported direction: EINVAL.
  FeatureBuf<vfio_device_feature_mig_state> probe(
      VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
          VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
      8);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &probe), 0);
  FeatureBuf<vfio_device_feature_migration> probe_set(
      VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION, 8);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &probe_set), -EINVAL);
  FeatureBuf<vfio_device_feature_migration> get(VFIO_DEVICE_FEATURE_GET |
                                                VFIO_DEVICE_FEATURE_MIGRATION);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &get), 0);
  EXPECT_EQ(get.payload.flags,
            uint64_t{VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY});
}

TEST(FrontendV2, V1DeviceHasNoV2MigrationOps) {
  FrontendOptions o;
  o.protocol = Protocol::kV1;
  Pair p(o);
  FeatureBuf<vfio_device_feature_migration> get(VFIO_DEVICE_FEATURE_GET |
                                                VFIO_DEVICE_FEATURE_MIGRATION);
  EXPECT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_FEATURE, &get), -ENOTTY);
}

TEST(FrontendV2, SetStateWalksTheKernelPathAndHandsOutFdsOnlyAtTheEnd) {
  Pair p;
  PathRecorder rec;
  p.src.set_observer(&rec);
  int fd = 0;
  ASSERT_EQ(set_state(p.src, MigState::kRunning, &fd), 0);
  EXPECT_EQ(fd, -1) << "SET to the current state: no-op, no fd";
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy, &fd), 0);
  EXPECT_EQ(rec.last.path,
            (std::vector<std::string>{"RUNNING", "RUNNING_P2P", "STOP", "STOP_COPY"}));
  EXPECT_GE(fd, 0);
  EXPECT_FALSE(p.src_dev.running());
  int again = 0;
  EXPECT_EQ(set_state(p.src, MigState::kStopCopy, &again), 0);
  EXPECT_EQ(again, -1) << "no second fd for the same state";
  EXPECT_EQ(set_state(p.src, MigState::kPreCopy, &again), -EINVAL) << "blocked arc";
  EXPECT_EQ(again, -1);
  EXPECT_EQ(get_state(p.src), MigState::kStopCopy);
  EXPECT_EQ(set_state(p.src, MigState::kError), -EINVAL) << "ERROR cannot be requested";
  EXPECT_EQ(set_state(p.src, static_cast<MigState>(8)), -EINVAL);
  ASSERT_EQ(set_state(p.src, MigState::kRunning, &again), 0);
  EXPECT_EQ(rec.last.path,
            (std::vector<std::string>{"STOP_COPY", "STOP", "RUNNING_P2P", "RUNNING"}));
  EXPECT_TRUE(p.src_dev.running());
  char b[8];
  EXPECT_EQ(p.src.read(fd, b, 8), -ENODEV) << "the session ended with STOP_COPY";
}

TEST(FrontendV2, OptionalStatesAreSkippedOrRefusedWhenNotAdvertised) {
  FrontendOptions o;
  o.migration_flags = kMigrationStopCopy;
  Pair p(o);
  PathRecorder rec;
  p.src.set_observer(&rec);
  EXPECT_EQ(set_state(p.src, MigState::kRunningP2P), -EINVAL);
  EXPECT_EQ(set_state(p.src, MigState::kPreCopy), -EINVAL);
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy), 0);
  EXPECT_EQ(rec.last.path, (std::vector<std::string>{"RUNNING", "STOP", "STOP_COPY"}));
}

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

TEST(FrontendV2, InjectedArcFailureLandsInError) {
  FrontendOptions o;
  o.fail_arc = std::make_pair(static_cast<uint32_t>(MigState::kPreCopyP2P),
                              static_cast<uint32_t>(MigState::kStopCopy));
  Pair p(o);
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy), 0);
  EXPECT_EQ(set_state(p.src, MigState::kStopCopy), -EIO);
  EXPECT_EQ(get_state(p.src), MigState::kError);
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_RESET, nullptr), 0);
  EXPECT_EQ(get_state(p.src), MigState::kRunning);
}

// The fault hook arms a failure after construction (the device_error fault
// strikes mid-migration), with the same effect as the option.
TEST(FrontendV2, ArcFailureInjectedMidMigrationLandsInError) {
  Pair p;
  int fd = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &fd), 0);
  EXPECT_FALSE(p.src.options().fail_arc);
  p.src.inject_arc_failure(static_cast<uint32_t>(MigState::kPreCopyP2P),
                           static_cast<uint32_t>(MigState::kStopCopy));
  ASSERT_TRUE(p.src.options().fail_arc);
  PathRecorder rec;
  p.src.set_observer(&rec);
  EXPECT_EQ(set_state(p.src, MigState::kStopCopy), -EIO);
  EXPECT_EQ(rec.last.path, (std::vector<std::string>{"PRE_COPY", "PRE_COPY_P2P", "ERROR"}));
  EXPECT_EQ(rec.last.notes.back(),
            "EIO: injected fault: the device failed the arc PRE_COPY_P2P -> STOP_COPY and is in "
            "ERROR");
  EXPECT_EQ(get_state(p.src), MigState::kError);
  uint8_t b[8];
  EXPECT_EQ(p.src.read(fd, b, sizeof b), -ENODEV) << "the failed arc dropped the session";
  EXPECT_EQ(set_state(p.src, MigState::kRunning), -EINVAL) << "only reset leaves ERROR";
}

TEST(FrontendV2, DataSizeIsTheStopCopyLength) {
  Pair p;
  sc_core::sc_start(sc_time(20, sc_core::SC_MS));
  FeatureBuf<vfio_device_feature_mig_data_size> ds(VFIO_DEVICE_FEATURE_GET |
                                                   VFIO_DEVICE_FEATURE_MIG_DATA_SIZE);
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_FEATURE, &ds), 0);
  int save = -1;
  ASSERT_EQ(set_state(p.src, MigState::kStopCopy, &save), 0);
  std::vector<uint8_t> buf(1 << 20);
  uint64_t total = 0;
  long n;
  while ((n = p.src.read(save, buf.data(), buf.size())) > 0) total += n;
  EXPECT_EQ(ds.payload.stop_copy_length, total)
      << "the estimate before stopping is exact for a stopped device";
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

}  // namespace
}  // namespace mdevsim::vfio
