// The ABI call trace: every frontend call begins and finishes here, with
// the rules that decided it as notes, and is counted for result JSON "abi".
#include "frontend_impl.h"

namespace mdevsim::vfio {

std::string errno_name(int err) {
  switch (err) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EIO:
      return "EIO";
    case EBADF:
      return "EBADF";
    case EAGAIN:
      return "EAGAIN";
    case ENOMEM:
      return "ENOMEM";
    case EACCES:
      return "EACCES";
    case EFAULT:
      return "EFAULT";
    case EBUSY:
      return "EBUSY";
    case EEXIST:
      return "EEXIST";
    case ENODEV:
      return "ENODEV";
    case EINVAL:
      return "EINVAL";
    case ENOTTY:
      return "ENOTTY";
    case ESPIPE:
      return "ESPIPE";
    case E2BIG:
      return "E2BIG";
    case ENOMSG:
      return "ENOMSG";
    case EOVERFLOW:
      return "EOVERFLOW";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
  }
  return "E" + std::to_string(err);
}

void Frontend::Impl::bump(std::vector<std::pair<std::string, uint64_t>>& v, const std::string& k) {
  for (auto& [name, n] : v)
    if (name == k) {
      ++n;
      return;
    }
  v.emplace_back(k, 1);
}

void Frontend::Impl::begin(const char* call, int fd, std::string request) {
  rec = CallRecord{};
  rec.call = call;
  rec.fd = fd;
  rec.fd_kind = fd == kContainerFd   ? "container"
                : fd == kDeviceFd    ? "device"
                : fds.count(fd)      ? "data"
                : eventfds.count(fd) ? "eventfd"
                                     : "unknown";
  rec.request = std::move(request);
  rec.state_before = state_str();
}

long Frontend::Impl::finish(long ret) {
  rec.ret = ret;
  rec.state_after = state_str();
  bump(call_counts, rec.call + " " + rec.request.substr(0, rec.request.find('(')));
  if (ret < 0) bump(errno_counts, errno_name(static_cast<int>(-ret)));
  if (observer) observer->on_call(rec);
  return ret;
}

long Frontend::Impl::fail(int err, std::string why) {
  rec.notes.push_back(errno_name(err) + ": " + std::move(why));
  return -err;
}

}  // namespace mdevsim::vfio
