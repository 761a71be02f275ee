// One host's VFIO migration ABI over a MigratableDevice. Every rule here is
// the kernel's (vfio_main.c core checks, vfio_iommu_type1 dirty tracking,
// the uAPI text of protocols v1 and v2) or marked [sim] where the ABI leaves
// the choice to the driver.
#include "mdevsim/vfio/frontend.h"

#include "frontend_impl.h"

namespace mdevsim::vfio {

Frontend::Frontend(models::MigratableDevice& device, FrontendOptions options)
    : impl_(std::make_unique<Impl>(device, std::move(options))) {}
Frontend::~Frontend() = default;

int Frontend::container_fd() const { return Impl::kContainerFd; }
int Frontend::device_fd() const { return Impl::kDeviceFd; }

long Frontend::ioctl(int fd, unsigned long request, void* arg) {
  auto& m = *impl_;
  m.begin("ioctl", fd, "");
  if (fd == Impl::kContainerFd) return m.finish(m.container_ioctl(request, arg));
  if (fd == Impl::kDeviceFd) return m.finish(m.device_ioctl(request, arg));
  if (m.eventfds.count(fd)) {
    m.rec.request = "ioctl " + std::to_string(request);
    return m.finish(m.fail(ENOTTY, "an eventfd has no ioctls"));
  }
  const auto it = m.fds.find(fd);
  if (it == m.fds.end()) return m.finish(m.fail(EBADF, "no such fd"));
  return m.finish(m.data_ioctl(*it->second, request, arg));
}

ssize_t Frontend::pread(int fd, void* buf, size_t len, uint64_t offset) {
  auto& m = *impl_;
  m.begin("pread", fd, "");
  if (m.fds.count(fd) || m.eventfds.count(fd))
    return m.finish(m.fail(ESPIPE, "data fds and eventfds are streams: no positioned I/O"));
  if (fd != Impl::kDeviceFd)
    return m.finish(m.fail(fd == Impl::kContainerFd ? EINVAL : EBADF, "not a device fd"));
  return m.finish(m.region_access(false, buf, len, offset));
}

ssize_t Frontend::pwrite(int fd, const void* buf, size_t len, uint64_t offset) {
  auto& m = *impl_;
  m.begin("pwrite", fd, "");
  if (m.fds.count(fd) || m.eventfds.count(fd))
    return m.finish(m.fail(ESPIPE, "data fds and eventfds are streams: no positioned I/O"));
  if (fd != Impl::kDeviceFd)
    return m.finish(m.fail(fd == Impl::kContainerFd ? EINVAL : EBADF, "not a device fd"));
  return m.finish(m.region_access(true, const_cast<void*>(buf), len, offset));
}

ssize_t Frontend::read(int fd, void* buf, size_t len) {
  auto& m = *impl_;
  m.begin("read", fd, "data");
  if (const auto e = m.eventfds.find(fd); e != m.eventfds.end())
    return m.finish(m.eventfd_read(*e->second, buf, len));
  const auto it = m.fds.find(fd);
  if (it == m.fds.end())
    return m.finish(m.fail(fd == Impl::kDeviceFd || fd == Impl::kContainerFd ? EINVAL : EBADF,
                           "not a data fd"));
  return m.finish(m.data_read(*it->second, buf, len));
}

ssize_t Frontend::write(int fd, const void* buf, size_t len) {
  auto& m = *impl_;
  m.begin("write", fd, "data");
  if (const auto e = m.eventfds.find(fd); e != m.eventfds.end())
    return m.finish(m.eventfd_write(*e->second, buf, len));
  const auto it = m.fds.find(fd);
  if (it == m.fds.end())
    return m.finish(m.fail(fd == Impl::kDeviceFd || fd == Impl::kContainerFd ? EINVAL : EBADF,
                           "not a data fd"));
  return m.finish(m.data_write(*it->second, buf, len));
}

int Frontend::close(int fd) {
  auto& m = *impl_;
  m.begin("close", fd, "fd");
  if (const auto e = m.eventfds.find(fd); e != m.eventfds.end()) {
    if (e->second == m.fault_event) m.stop_fault_signal();
    m.eventfds.erase(e);
    return static_cast<int>(m.finish(0));
  }
  const auto it = m.fds.find(fd);
  if (it == m.fds.end()) return static_cast<int>(m.finish(m.fail(EBADF, "no such data fd")));
  m.fds.erase(it);
  m.note("closing a data fd does not change the device state");
  return static_cast<int>(m.finish(0));
}

void* Frontend::mmap(int fd, uint64_t offset, size_t len) {
  auto& m = *impl_;
  if (fd != Impl::kDeviceFd || !m.v1() || !m.opt.v1_data_mmap) return nullptr;
  const uint64_t index = offset >> kRegionShift, off = offset & ((uint64_t{1} << kRegionShift) - 1);
  if (index != kMigrationRegionIndex || off < kV1DataOffset || off + len > m.v1_region_size())
    return nullptr;
  return m.data_section.data() + (off - kV1DataOffset);
}

void Frontend::set_observer(CallObserver* observer) { impl_->observer = observer; }
void Frontend::inject_arc_failure(uint32_t from_value, uint32_t to_value) {
  impl_->opt.fail_arc = std::make_pair(from_value, to_value);
}
std::string Frontend::state_name() const { return impl_->state_str(); }
uint32_t Frontend::state_value() const {
  return impl_->v1() ? impl_->v1_state : impl_->proto().states[impl_->state].value;
}
const FrontendOptions& Frontend::options() const { return impl_->opt; }
const std::vector<std::pair<std::string, uint64_t>>& Frontend::call_counts() const {
  return impl_->call_counts;
}
const std::vector<std::pair<std::string, uint64_t>>& Frontend::errno_counts() const {
  return impl_->errno_counts;
}

}  // namespace mdevsim::vfio
