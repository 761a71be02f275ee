// The post-copy proposal's ABI (uapi_proposals.h, NOT IN ANY KERNEL): page
// requests on the serving source's save fd, faults on the running
// destination's resume fd, and the fault eventfd the device signals.
#include <poll.h>

#include <algorithm>
#include <limits>

#include "frontend_impl.h"

namespace mdevsim::vfio {

long Frontend::Impl::postcopy_ioctl(DataFile& f, unsigned long request, void* arg) {
  const bool req = request == VFIO_MIG_POSTCOPY_REQUEST;
  rec.request = req ? "VFIO_MIG_POSTCOPY_REQUEST" : "VFIO_MIG_POSTCOPY_FAULTS";
  if (!(flags() & VFIO_MIGRATION_POST_COPY))
    return fail(ENOTTY, "post-copy ioctls exist only on devices advertising post_copy");
  if (!arg) return fail(EFAULT, "no argument buffer");
  if (!f.active) return fail(ENODEV, "the session has ended");
  return req ? postcopy_request(f, *static_cast<vfio_mig_postcopy_request*>(arg))
             : postcopy_faults(f, *static_cast<vfio_mig_postcopy_faults*>(arg));
}

long Frontend::Impl::postcopy_request(DataFile& f, vfio_mig_postcopy_request& r) {
  if (r.argsz < sizeof(r)) return fail(EINVAL, "argsz is smaller than 32");
  if (!f.save || proto().states[state].data != DataRule::kServe)
    return fail(EINVAL,
                "pages are requested from the save fd of a serving source, not in " + sname(state));
  if (r.flags & VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND)
    r.queued = f.saver->queue_background(r.count, r.flags & VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST);
  else
    r.queued = f.saver->queue_pages(r.first_page, r.count);
  rec.args = "first_page=" + std::to_string(r.first_page) + " count=" + std::to_string(r.count) +
             " queued=" + std::to_string(r.queued);
  return 0;
}

long Frontend::Impl::postcopy_faults(DataFile& f, vfio_mig_postcopy_faults& q) {
  constexpr uint32_t kMinsz = VFIO_MIG_POSTCOPY_FAULTS_MINSZ;
  const bool extended = q.argsz >= sizeof(q);
  if (q.argsz < kMinsz) return fail(EINVAL, "argsz is smaller than 40");
  if (q.flags & ~uint32_t{VFIO_MIG_POSTCOPY_FAULTS_EVENTFD})
    return fail(EINVAL, "unknown flags (only FAULTS_EVENTFD is defined)");
  const bool want_eventfd = q.flags & VFIO_MIG_POSTCOPY_FAULTS_EVENTFD;
  if (want_eventfd && !extended)
    return fail(EINVAL, "FAULTS_EVENTFD needs argsz 56: the eventfd is returned past 40");
  if (want_eventfd && (!proto().postcopy || proto().postcopy->fault_delivery != "eventfd"))
    return fail(EINVAL, "this device cannot signal faults (fault_delivery: poll): poll FAULTS");
  if (f.save || proto().states[state].data != DataRule::kResumeRunning)
    return fail(EINVAL, "faults are read from the resume fd of a running destination, not in " +
                            sname(state));
  auto faults = dev.take_faults();
  const size_t n = std::min<size_t>(faults.size(), q.capacity);
  auto* out = reinterpret_cast<uint64_t*>(q.pages);
  if (n > 0 && out == nullptr) return fail(EFAULT, "no pages buffer");
  for (size_t k = 0; k < n; ++k) out[k] = faults[k];
  if (n < faults.size()) note("more faults than capacity: the rest are lost to this call");
  q.count = n;
  q.missing = dev.missing_pages();
  rec.args = "count=" + std::to_string(n) + " missing=" + std::to_string(q.missing);
  if (!extended) return 0;
  q.record_bytes = dev.postcopy_page_record_bytes();
  q.eventfd = want_eventfd ? open_fault_eventfd() : -1;
  q.reserved = 0;
  rec.args += " record_bytes=" + std::to_string(q.record_bytes);
  if (want_eventfd) {
    rec.args += " eventfd=" + std::to_string(q.eventfd);
    note("the device adds 1 to the eventfd for every fault it raises, until the session ends");
  }
  return 0;
}

int Frontend::Impl::open_fault_eventfd() {
  if (fault_event) return fault_eventfd;  // one per resume session
  fault_event = std::make_shared<EventFile>();
  fault_eventfd = next_fd++;
  eventfds[fault_eventfd] = fault_event;
  dev.set_fault_notify([e = fault_event] {
    if (e->count < std::numeric_limits<uint64_t>::max() - 1) ++e->count;
    if (e->wake) e->wake();
  });
  return fault_eventfd;
}

void Frontend::Impl::stop_fault_signal() {
  if (!fault_event) return;
  dev.set_fault_notify({});
  fault_event.reset();
  fault_eventfd = -1;
}

// eventfd(2) with EFD_NONBLOCK: 8-byte reads and writes of the counter.
long Frontend::Impl::eventfd_read(EventFile& e, void* buf, size_t len) {
  rec.request = "eventfd";
  if (len < sizeof(uint64_t)) return fail(EINVAL, "an eventfd is read 8 bytes at a time");
  if (buf == nullptr) return fail(EFAULT, "no buffer");
  if (e.count == 0) return fail(EAGAIN, "the count is 0 (the eventfd is non-blocking)");
  std::memcpy(buf, &e.count, sizeof(e.count));
  rec.args = "count=" + std::to_string(e.count);
  e.count = 0;
  return sizeof(uint64_t);
}

long Frontend::Impl::eventfd_write(EventFile& e, const void* buf, size_t len) {
  rec.request = "eventfd";
  if (len < sizeof(uint64_t)) return fail(EINVAL, "an eventfd is written 8 bytes at a time");
  if (buf == nullptr) return fail(EFAULT, "no buffer");
  uint64_t v = 0;
  std::memcpy(&v, buf, sizeof(v));
  if (v == std::numeric_limits<uint64_t>::max()) return fail(EINVAL, "0xffffffffffffffff");
  if (e.count > std::numeric_limits<uint64_t>::max() - 1 - v)
    return fail(EAGAIN, "the count would overflow (the eventfd is non-blocking)");
  e.count += v;
  if (v && e.wake) e.wake();
  return sizeof(uint64_t);
}

long Frontend::poll(int fd) {
  auto& m = *impl_;
  m.begin("poll", fd, "POLLIN");
  const auto it = m.eventfds.find(fd);
  if (it != m.eventfds.end()) {
    m.rec.args = "count=" + std::to_string(it->second->count);
    return m.finish(it->second->count ? POLLIN : 0);
  }
  if (fd == Impl::kContainerFd || fd == Impl::kDeviceFd || m.fds.count(fd))
    return m.finish(m.fail(EINVAL, "[sim] only eventfds can be polled here"));
  return m.finish(m.fail(EBADF, "no such fd"));
}

bool Frontend::set_poll_wake(int fd, std::function<void()> wake) {
  const auto it = impl_->eventfds.find(fd);
  if (it == impl_->eventfds.end()) return false;
  it->second->wake = std::move(wake);
  return true;
}

}  // namespace mdevsim::vfio
