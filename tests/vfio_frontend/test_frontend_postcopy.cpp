// The post-copy proposal's ABI (scenarios/protocols/v2-postcopy.json) on the
// frontend: the new states' arcs, the REQUEST/FAULTS ioctls and their errnos,
// pages served once, a destination that faults and waits, and the fault
// eventfd (vfio_frontend/src/postcopy.cpp).
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "frontend_fixture.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::vfio::testing {
namespace {

constexpr auto kServe = static_cast<MigState>(8), kResumingRunning = static_cast<MigState>(9);

FrontendOptions postcopy_options(const char* protocol = "v2-postcopy") {
  FrontendOptions o;
  o.protocol_def = std::make_shared<const ProtocolSpec>(resolve_protocol(protocol));
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

// ---- the fault eventfd

// FAULTS with the extension; `flags` as given.
long faults(Frontend& fe, int fd, uint32_t flags, vfio_mig_postcopy_faults& f,
            std::vector<uint64_t>& pages) {
  f = {};
  f.argsz = sizeof(f);
  f.flags = flags;
  f.capacity = pages.size();
  f.pages = reinterpret_cast<uint64_t>(pages.data());
  return fe.ioctl(fd, VFIO_MIG_POSTCOPY_FAULTS, &f);
}

// The destination's engines touch `page`, as a device thread does (it waits
// there until the page arrives).
void touch_later(models::GpuDevice& dev, uint64_t page) {
  sc_core::sc_spawn([&dev, page] { dev.vram.touch(page); });
}

std::vector<uint64_t> missing_pages(const models::GpuDevice& dev, size_t n) {
  std::vector<uint64_t> out;
  for (uint64_t p = 0; p < dev.vram.store().page_count() && out.size() < n; ++p)
    if (dev.vram.missing(p)) out.push_back(p);
  return out;
}

TEST(FrontendPostcopy, FaultEventfdIsSignalledByEachFaultAndReadZeroesIt) {
  Pair p(postcopy_options());
  const auto s = switch_to_postcopy(p);
  const uint64_t missing = p.dst_dev.missing_pages();
  const auto two = missing_pages(p.dst_dev, 2);
  ASSERT_EQ(two.size(), 2u);
  std::vector<uint64_t> pages(16);
  vfio_mig_postcopy_faults f{};
  ASSERT_EQ(faults(p.dst, s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), 0);
  const int efd = f.eventfd;
  ASSERT_GE(efd, 0);
  EXPECT_EQ(f.missing, missing);
  EXPECT_EQ(f.record_bytes, 16 + 8 + p.dst_dev.config().page_size) << "header, index, page";
  EXPECT_EQ(f.reserved, 0u);
  uint64_t wakes = 0;
  ASSERT_TRUE(p.dst.set_poll_wake(efd, [&] { ++wakes; }));
  EXPECT_EQ(p.dst.poll(efd), 0) << "no fault yet";
  uint64_t count = 0;
  EXPECT_EQ(p.dst.read(efd, &count, sizeof count), -EAGAIN) << "non-blocking, count 0";

  touch_later(p.dst_dev, two[0]);
  sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_US));
  EXPECT_EQ(p.dst.poll(efd), POLLIN);
  EXPECT_GE(wakes, 1u) << "a sleeper in poll() is woken";
  ASSERT_EQ(p.dst.read(efd, &count, sizeof count), 8);
  EXPECT_GE(count, 1u);
  EXPECT_EQ(p.dst.poll(efd), 0) << "read zeroes the count";
  EXPECT_EQ(p.dst.read(efd, &count, sizeof count), -EAGAIN);
  ASSERT_EQ(faults(p.dst, s.resume_fd, 0, f, pages), 0);
  pages.resize(f.count);
  EXPECT_NE(std::find(pages.begin(), pages.end(), two[0]), pages.end()) << "FAULTS has the page";
  EXPECT_EQ(f.missing, missing) << "faulted, not yet arrived";
  EXPECT_EQ(f.eventfd, -1) << "no eventfd asked for";

  // The page arrives: one page record; FAULTS' missing drops by one.
  uint64_t queued = 0;
  ASSERT_EQ(request(p.src, s.save_fd, two[0], 1, &queued), 0);
  ASSERT_EQ(queued, 1u);
  EXPECT_EQ(pump(p, s.save_fd, s.resume_fd), f.record_bytes);
  pages.assign(16, 0);
  ASSERT_EQ(faults(p.dst, s.resume_fd, 0, f, pages), 0);
  EXPECT_EQ(f.missing, missing - 1);
  EXPECT_EQ(f.missing, p.dst_dev.missing_pages());

  // A present page raises nothing; the next missing one signals again.
  const uint64_t wakes_before = wakes;
  ASSERT_EQ(p.dst.read(efd, &count, sizeof count), -EAGAIN);
  touch_later(p.dst_dev, two[0]);
  sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_US));
  touch_later(p.dst_dev, two[1]);
  sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_US));
  EXPECT_GT(wakes, wakes_before);
  ASSERT_EQ(p.dst.read(efd, &count, sizeof count), 8);

  // A second FAULTS_EVENTFD call returns the same fd.
  pages.assign(16, 0);
  ASSERT_EQ(faults(p.dst, s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), 0);
  EXPECT_EQ(f.eventfd, efd);
  // The session ends: the fd stays readable as a file, but is not signalled.
  ASSERT_EQ(request(p.src, s.save_fd, 0, 1 << 20, &queued), 0);
  pump(p, s.save_fd, s.resume_fd);
  ASSERT_EQ(set_state(p.dst, MigState::kRunning), 0);
  EXPECT_EQ(p.dst.read(efd, &count, sizeof count), -EAGAIN);
  EXPECT_EQ(p.dst.close(efd), 0);
  EXPECT_EQ(p.dst.read(efd, &count, sizeof count), -EBADF);
  EXPECT_EQ(p.dst.poll(efd), -EBADF);
}

TEST(FrontendPostcopy, FaultsExtensionFollowsTheMinszRule) {
  Pair p(postcopy_options());
  const auto s = switch_to_postcopy(p);
  std::vector<uint64_t> pages(16);
  vfio_mig_postcopy_faults f{};
  faults(p.dst, s.resume_fd, 0, f, pages);
  f.argsz = VFIO_MIG_POSTCOPY_FAULTS_MINSZ;  // a caller from before the extension
  f.record_bytes = 777;
  f.eventfd = 777;
  ASSERT_EQ(p.dst.ioctl(s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS, &f), 0);
  EXPECT_EQ(f.missing, p.dst_dev.missing_pages());
  EXPECT_EQ(f.record_bytes, 777u) << "past argsz: not written";
  EXPECT_EQ(f.eventfd, 777);
  f.flags = VFIO_MIG_POSTCOPY_FAULTS_EVENTFD;
  EXPECT_EQ(p.dst.ioctl(s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS, &f), -EINVAL)
      << "the eventfd would land past argsz";
  EXPECT_EQ(faults(p.dst, s.resume_fd, 1u << 5, f, pages), -EINVAL) << "unknown flag";
  EXPECT_EQ(faults(p.src, s.save_fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), -EINVAL)
      << "the eventfd belongs to the resume fd";
}

TEST(FrontendPostcopy, EventfdMisuseGetsTheKernelsErrnos) {
  Pair p(postcopy_options());
  const auto s = switch_to_postcopy(p);
  std::vector<uint64_t> pages(16);
  vfio_mig_postcopy_faults f{};
  ASSERT_EQ(faults(p.dst, s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), 0);
  const int efd = f.eventfd;
  uint32_t small = 0;
  EXPECT_EQ(p.dst.read(efd, &small, sizeof small), -EINVAL) << "eventfd reads are 8 bytes";
  EXPECT_EQ(p.dst.read(efd, nullptr, 8), -EFAULT);
  uint64_t v = 3;
  EXPECT_EQ(p.dst.write(efd, &v, sizeof v), 8) << "eventfd(2): a write adds to the count";
  uint64_t got = 0;
  ASSERT_EQ(p.dst.read(efd, &got, sizeof got), 8);
  EXPECT_EQ(got, 3u);
  v = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(p.dst.write(efd, &v, sizeof v), -EINVAL);
  EXPECT_EQ(p.dst.ioctl(efd, VFIO_MIG_GET_PRECOPY_INFO, &f), -ENOTTY);
  EXPECT_EQ(p.dst.pread(efd, &got, sizeof got, 0), -ESPIPE);
  EXPECT_EQ(p.dst.poll(p.dst.device_fd()), -EINVAL) << "[sim] only eventfds poll here";
  EXPECT_EQ(p.dst.poll(999), -EBADF);
  EXPECT_FALSE(p.dst.set_poll_wake(s.resume_fd, [] {})) << "not an eventfd";
}

TEST(FrontendPostcopy, APollingProposalHasNoFaultEventfd) {
  Pair p(postcopy_options("v2-postcopy-poll"));
  const auto s = switch_to_postcopy(p);
  std::vector<uint64_t> pages(16);
  vfio_mig_postcopy_faults f{};
  EXPECT_EQ(faults(p.dst, s.resume_fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), -EINVAL)
      << "fault_delivery: poll";
  ASSERT_EQ(faults(p.dst, s.resume_fd, 0, f, pages), 0) << "FAULTS itself is there";
  EXPECT_EQ(f.eventfd, -1);
  EXPECT_EQ(f.record_bytes, 16 + 8 + p.dst_dev.config().page_size);
}

TEST(FrontendPostcopy, PlainV2HasNoFaultsIoctl) {
  Pair p;
  int fd = -1;
  ASSERT_EQ(set_state(p.dst, MigState::kResuming, &fd), 0);
  std::vector<uint64_t> pages(16);
  vfio_mig_postcopy_faults f{};
  EXPECT_EQ(faults(p.dst, fd, VFIO_MIG_POSTCOPY_FAULTS_EVENTFD, f, pages), -ENOTTY);
}

}  // namespace
}  // namespace mdevsim::vfio::testing
