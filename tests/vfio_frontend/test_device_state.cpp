// Protocol v2's device state (device_state.cpp): feature-ioctl core checks,
// state changes along the kernel's paths, MIG_DATA_SIZE, reset and faults.
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
      << "mdev without device_feature op (current kernels; KernelAbi below has both)";
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

// Issue 12: vfio_ioctl_device_feature(): the default case, for a driver without a
// device_feature op, returns -ENOTTY since 16df67f2189a and -EINVAL before.
TEST(KernelAbi, UnknownFeatureIndexFollowsTheKernelGeneration) {
  Pair p;
  for (const auto& [generation, expected] : {std::pair{KernelGeneration::kCurrent, -ENOTTY},
                                             std::pair{KernelGeneration::kBefore2025, -EINVAL}}) {
    FrontendOptions o;
    o.kernel = generation;
    Frontend fe(p.src_dev, o);
    FeatureBuf<uint64_t> unknown(VFIO_DEVICE_FEATURE_GET | 42);
    EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &unknown), expected);
    // Known features do not depend on it.
    FeatureBuf<vfio_device_feature_migration> mig(VFIO_DEVICE_FEATURE_GET |
                                                  VFIO_DEVICE_FEATURE_MIGRATION);
    EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &mig), 0);
  }
  EXPECT_EQ(FrontendOptions{}.kernel, KernelGeneration::kCurrent) << "the current one by default";
}

}  // namespace
}  // namespace mdevsim::vfio
