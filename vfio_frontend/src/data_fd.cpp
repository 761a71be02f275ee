// Protocol v2 data fds: the save/resume stream, PRECOPY_INFO, and the
// simulator's splice fast path (the post-copy ioctls: postcopy.cpp).
#include <algorithm>

#include "frontend_impl.h"

namespace mdevsim::vfio {

int stream_errno(models::StreamError e) {
  switch (e) {
    case models::StreamError::kNone:
      return 0;
    case models::StreamError::kTooLong:
      return ENOMEM;  // mtty: more than an image holds
    case models::StreamError::kBadHeader:
      return EFAULT;  // mtty: magic/version mismatch
    case models::StreamError::kCorrupt:
      return EINVAL;
    case models::StreamError::kIncomplete:
      return EINVAL;  // mtty: RESUMING->STOP with short data
    case models::StreamError::kClosed:
      return ENODEV;
  }
  return EIO;
}

long Frontend::Impl::data_ioctl(DataFile& f, unsigned long request, void* arg) {
  if (request == VFIO_MIG_POSTCOPY_REQUEST || request == VFIO_MIG_POSTCOPY_FAULTS)
    return postcopy_ioctl(f, request, arg);
  if (request != VFIO_MIG_GET_PRECOPY_INFO) {
    rec.request = "ioctl " + std::to_string(request);
    return fail(ENOTTY, "the only ioctl of a data fd is VFIO_MIG_GET_PRECOPY_INFO");
  }
  rec.request = "VFIO_MIG_GET_PRECOPY_INFO";
  if (!f.save) return fail(ENOTTY, "a resume fd has no ioctls");
  if (!arg) return fail(EFAULT, "no argument buffer");
  auto* info = static_cast<vfio_precopy_info*>(arg);
  if (info->argsz < sizeof(vfio_precopy_info)) return fail(EINVAL, "argsz is smaller than 24");
  // The state first, then the fd (mtty_precopy_ioctl, mlx5 and hisi_acc alike).
  // "PRE_COPY states" are the protocol's states with the precopy data rule.
  if (proto().states[state].data != DataRule::kPreCopy) {
    std::string precopy;
    for (const auto& s : proto().states)
      if (s.data == DataRule::kPreCopy) precopy += (precopy.empty() ? "" : " or ") + s.name;
    return fail(EINVAL, "PRECOPY_INFO is valid only in " + precopy + ", not " + sname(state));
  }
  if (!f.active) return fail(ENODEV, "the save session has ended");
  info->initial_bytes = f.saver->initial_bytes();
  info->dirty_bytes = f.saver->dirty_bytes();
  note(
      "initial_bytes: what is left of the first image; dirty_bytes: state changed since, "
      "not yet read");
  rec.args = "initial_bytes=" + std::to_string(info->initial_bytes) +
             " dirty_bytes=" + std::to_string(info->dirty_bytes);
  return 0;
}

long Frontend::Impl::data_read(DataFile& f, void* buf, size_t len) {
  if (!f.save) return fail(EBADF, "a resume fd is opened write-only");
  if (!f.active) return fail(ENODEV, "the save session has ended (state left, or device reset)");
  if (buf == nullptr && len > 0) return fail(EFAULT, "no buffer");
  const size_t n = f.saver->read(std::span<uint8_t>(static_cast<uint8_t*>(buf), len));
  if (n == 0 && len > 0) {
    if (f.saver->postcopy() && !f.saver->at_end())
      return fail(ENOMSG, "nothing queued: ask for pages with VFIO_MIG_POSTCOPY_REQUEST");
    if (!f.saver->finalized()) {
      if (opt.precopy_empty_enomsg)
        return fail(ENOMSG, "nothing to read in PRE_COPY now: a temporary end of stream");
      note("nothing to read in PRE_COPY now (this device returns 0 rather than ENOMSG)");
    } else {
      note("end of stream: STOP_COPY data is complete");
    }
  }
  return static_cast<long>(n);
}

long Frontend::Impl::data_write(DataFile& f, const void* buf, size_t len) {
  if (f.save) return fail(EBADF, "a save fd is opened read-only");
  if (!f.active) return fail(ENODEV, "the resume session has ended");
  if (f.latched) return fail(f.latched, "the resume stream already failed");
  if (buf == nullptr && len > 0) return fail(EFAULT, "no buffer");
  const auto st = f.resumer->write(std::span<const uint8_t>(static_cast<const uint8_t*>(buf), len));
  if (!st.ok()) {
    f.latched = stream_errno(st.error);
    return fail(f.latched, "the device rejected the stream: " + st.message);
  }
  return static_cast<long>(len);
}

// The hand-off stands for the source VMM's read() of the save fd and the
// destination VMM's write() of those bytes to the resume fd: each frontend
// records (and counts) its own half, so traces and call counts show the
// calls a VMM makes, never a "splice".
ssize_t Frontend::splice_to(int save_fd, Frontend& dst, int resume_fd, size_t len) {
  auto& m = *impl_;
  auto& d = *dst.impl_;
  m.begin("read", save_fd, "data");
  const auto si = m.fds.find(save_fd);
  if (si == m.fds.end()) return m.finish(m.fail(EBADF, "not a data fd"));
  DataFile& s = *si->second;
  if (!s.save) return m.finish(m.fail(EBADF, "a resume fd is opened write-only"));
  if (!s.active)
    return m.finish(m.fail(ENODEV, "the save session has ended (state left, or device reset)"));
  // The write's own checks, before any byte leaves the source.
  const auto ri = d.fds.find(resume_fd);
  const char* refused = ri == d.fds.end()     ? "not a data fd"
                        : ri->second->save    ? "a save fd is opened read-only"
                        : !ri->second->active ? "the resume session has ended"
                        : ri->second->latched ? "the resume stream already failed"
                                              : nullptr;
  if (refused) {
    const int err = ri == d.fds.end() || ri->second->save ? EBADF
                    : !ri->second->active                 ? ENODEV
                                                          : ri->second->latched;
    d.begin("write", resume_fd, "data");
    return d.finish(d.fail(err, refused));
  }
  DataFile& r = *ri->second;
  std::vector<models::StreamChunk> chunks;
  const uint64_t n = s.saver->read_chunks(len, chunks);
  if (n == 0) {
    if (len == 0) return m.finish(0);
    if (s.saver->postcopy() && !s.saver->at_end())
      return m.finish(
          m.fail(ENOMSG, "nothing queued: ask for pages with VFIO_MIG_POSTCOPY_REQUEST"));
    if (!s.saver->finalized() && m.opt.precopy_empty_enomsg)
      return m.finish(m.fail(ENOMSG, "nothing to read in PRE_COPY now: a temporary end of stream"));
    m.note(s.saver->finalized() ? "end of stream: STOP_COPY data is complete"
                                : "nothing to read in PRE_COPY now (this device returns 0 rather "
                                  "than ENOMSG)");
    return m.finish(0);
  }
  m.finish(static_cast<long>(n));
  d.begin("write", resume_fd, "data");
  const auto st = r.resumer->write_chunks(chunks);
  if (!st.ok()) {
    r.latched = stream_errno(st.error);
    d.finish(d.fail(r.latched, "the device rejected the stream: " + st.message));
    return -r.latched;
  }
  d.finish(static_cast<long>(n));
  return static_cast<long>(n);
}

}  // namespace mdevsim::vfio
