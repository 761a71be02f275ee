// The post-copy proposal's ABI (scenarios/protocols/v2-postcopy.json) on the
// frontend: the new states' arcs, the REQUEST/FAULTS ioctls and their errnos,
// pages served once, and a destination that faults and waits.
#include <memory>

#include "frontend_fixture.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::vfio::testing {
namespace {

constexpr auto kServe = static_cast<MigState>(8), kResumingRunning = static_cast<MigState>(9);

FrontendOptions postcopy_options() {
  FrontendOptions o;
  o.protocol_def = std::make_shared<const ProtocolSpec>(resolve_protocol("v2-postcopy"));
  o.migration_flags = o.protocol_def->all_flags();
  return o;
}

long request(Frontend& fe, int fd, uint64_t first, uint64_t count, uint64_t* queued,
             uint32_t flags = 0) {
  uint64_t q = 0;
  const long rc = vmm::postcopy_request(fe, fd, first, count, flags, q);
  if (queued) *queued = q;
  return rc;
}

// Moves everything readable now from src's save fd into dst's resume fd.
uint64_t pump(Pair& p, int save_fd, int resume_fd) {
  std::vector<uint8_t> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    const long n = p.src.read(save_fd, buf.data(), buf.size());
    if (n <= 0) return total;
    EXPECT_EQ(p.dst.write(resume_fd, buf.data(), static_cast<size_t>(n)), n);
    total += static_cast<uint64_t>(n);
  }
}

struct Switched {
  int save_fd = -1, resume_fd = -1;
};

// Pre-copy once, switch: the destination runs with pages missing.
Switched switch_to_postcopy(Pair& p) {
  Switched s;
  sc_core::sc_start(sc_core::sc_time(20, sc_core::SC_MS));  // the workload dirties VRAM
  EXPECT_EQ(set_state(p.src, MigState::kPreCopy, &s.save_fd), 0);
  EXPECT_EQ(set_state(p.dst, MigState::kResuming, &s.resume_fd), 0);
  pump(p, s.save_fd, s.resume_fd);
  sc_core::sc_start(sc_core::sc_time(10, sc_core::SC_MS));  // re-dirty some of it
  int fd = 99;
  EXPECT_EQ(set_state(p.src, kServe, &fd), 0);
  EXPECT_EQ(fd, -1) << "serving keeps the pre-copy fd";
  pump(p, s.save_fd, s.resume_fd);
  EXPECT_EQ(set_state(p.dst, kResumingRunning), 0);
  return s;
}

TEST(FrontendPostcopy, DestinationRunsWithMissingPagesAndLeavesOnlyWhenAllArrived) {
  Pair p(postcopy_options());
  const auto s = switch_to_postcopy(p);
  const uint64_t missing = p.dst_dev.missing_pages();
  ASSERT_GT(missing, 0u);
  EXPECT_TRUE(p.dst_dev.running());
  EXPECT_FALSE(p.src_dev.running());
  EXPECT_EQ(set_state(p.dst, MigState::kRunning), -EINVAL) << "pages are missing";
  EXPECT_EQ(get_state(p.dst), kResumingRunning) << "a refused end leaves the state as it was";
  uint64_t queued = 0;
  ASSERT_EQ(request(p.src, s.save_fd, 0, 1 << 20, &queued), 0);
  EXPECT_EQ(queued, missing) << "exactly the missing pages are unsent";
  ASSERT_EQ(request(p.src, s.save_fd, 0, 1 << 20, &queued), 0);
  EXPECT_EQ(queued, 0u) << "a queued page is not queued twice";
  const uint64_t bytes = pump(p, s.save_fd, s.resume_fd);
  EXPECT_EQ(bytes, missing * (16 + 8 + p.src_dev.config().page_size)) << "each page once";
  EXPECT_EQ(p.dst_dev.missing_pages(), 0u);
  ASSERT_EQ(request(p.src, s.save_fd, 0, 1 << 20, &queued), 0);
  EXPECT_EQ(queued, 0u) << "a served page is never served again";
  EXPECT_EQ(set_state(p.dst, MigState::kRunning), 0);
  EXPECT_EQ(set_state(p.src, MigState::kStop), 0);
  uint8_t b[16];
  EXPECT_EQ(p.src.read(s.save_fd, b, sizeof b), -ENODEV) << "serving ended";
  // The destination holds exactly the source's state (the source never ran again).
  p.dst_dev.set_running(false);
  EXPECT_TRUE(models::compare_devices(p.src_dev, p.dst_dev).equal());
}

TEST(FrontendPostcopy, IoctlMisuseGetsTheExpectedErrnos) {
  Pair p(postcopy_options());
  const auto s = switch_to_postcopy(p);
  uint64_t q = 0;
  EXPECT_EQ(request(p.dst, s.resume_fd, 0, 1, &q), -EINVAL)
      << "pages are requested from the save fd";
  vfio_mig_postcopy_faults f{};
  f.argsz = sizeof(f);
  EXPECT_EQ(p.src.ioctl(s.save_fd, VFIO_MIG_POSTCOPY_FAULTS, &f), -EINVAL)
      << "faults come from the resume fd";
  f.argsz = 8;
  EXPECT_EQ(p.dst.ioctl(s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS, &f), -EINVAL) << "argsz too small";
  EXPECT_EQ(p.dst.ioctl(s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS, nullptr), -EFAULT);
  uint8_t b[64];
  EXPECT_EQ(p.src.read(s.save_fd, b, sizeof b), -ENOMSG) << "nothing queued yet";
}

TEST(FrontendPostcopy, PlainV2DevicesHaveNoPostcopy) {
  Pair p;  // the shipped v2.json
  int fd = -1;
  sc_core::sc_start(sc_core::sc_time(5, sc_core::SC_MS));
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &fd), 0);
  uint64_t q = 0;
  EXPECT_EQ(request(p.src, fd, 0, 1, &q), -ENOTTY) << "no post_copy feature: no such ioctl";
  EXPECT_EQ(set_state(p.src, kServe), -EINVAL) << "8 is not a state of v2";
}

TEST(FrontendPostcopy, UnadvertisedFeatureHidesTheNewStates) {
  FrontendOptions o = postcopy_options();
  o.migration_flags = 1 | 2 | 4;  // without post_copy
  Pair p(o);
  EXPECT_EQ(set_state(p.src, kServe), -EINVAL);
  EXPECT_EQ(get_state(p.src), MigState::kRunning);
}

}  // namespace
}  // namespace mdevsim::vfio::testing
