// libmdevsim-vfio-host.so: LD_PRELOAD it into an unmodified QEMU and the
// VFIO nodes QEMU opens are served by a simulated host (sim_host.h).
//
// Environment (vfio_host/README.md has the details):
//   MDEVSIM_VFIO_SCENARIO    scenario JSON: its seed, device and workload
//                            define the device (absent: a small default)
//   MDEVSIM_VFIO_PROTOCOL    v1 | v2, overrides the scenario's protocol
//   MDEVSIM_VFIO_DEVICE      the device name GROUP_GET_DEVICE_FD accepts
//                            (the sysfs node's basename; default mdevsim0)
//   MDEVSIM_VFIO_TRACE       file: the ABI trace of every call (docs/abi-trace.md)
//   MDEVSIM_VFIO_REPORT      file: the JSON report (include/mdevsim/vfio_host/report.h)
//   MDEVSIM_VFIO_TIME_RATIO  simulated seconds per wall-clock second (default 1.0)
//
// Every fd handed to QEMU is a real eventfd(EFD_CLOEXEC), so its number
// never collides with QEMU's own; a table maps it to what it stands for (a
// group, the container, the device, or one of the frontend's data fds).
// Calls on any other fd go straight to glibc. QEMU 7.2's mmap of v1's data
// section gets a real shared mapping kept coherent with the frontend's buffer. Nothing starts until
// a process opens /dev/vfio/*; LD_PRELOAD is removed from the environment at load, so QEMU's
// children (exec: migration) run without the library.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "data_stream.h"
#include "mdevsim/vfio/uapi.h"
#include "sim_thread.h"

#define MDEVSIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace mdevsim::vfio_host {
namespace {

// ------------------------------------------------------------ glibc
template <class F>
F next_symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

struct Real {
  int (*openat)(int, const char*, int, ...) = next_symbol<decltype(openat)>("openat64");
  int (*ioctl)(int, unsigned long, ...) = next_symbol<decltype(ioctl)>("ioctl");
  ssize_t (*pread)(int, void*, size_t, off_t) = next_symbol<decltype(pread)>("pread64");
  ssize_t (*pwrite)(int, const void*, size_t, off_t) = next_symbol<decltype(pwrite)>("pwrite64");
  ssize_t (*read)(int, void*, size_t) = next_symbol<decltype(read)>("read");
  ssize_t (*write)(int, const void*, size_t) = next_symbol<decltype(write)>("write");
  int (*close)(int) = next_symbol<decltype(close)>("close");
  void* (*mmap)(void*, size_t, int, int, int, off_t) = next_symbol<decltype(mmap)>("mmap64");
  int (*munmap)(void*, size_t) = next_symbol<decltype(munmap)>("munmap");
};

Real& real() {
  static Real r;
  return r;
}

// ------------------------------------------------------------ fd table
enum class Kind : uint8_t { kGroup, kContainer, kDevice, kData };

struct Entry {
  Kind kind;
  int inner = -1;                      // data: the frontend's fd number
  uint32_t group = 0;                  // group: its number
  std::shared_ptr<DataStream> stream;  // data: QEMU's side of the stream
};

std::mutex g_fd_mu;  // held only around table lookups and edits, never across I/O
std::unordered_map<int, Entry> g_fds;
std::atomic<size_t> g_fd_count{0};

std::optional<Entry> lookup(int fd) {
  if (g_fd_count.load(std::memory_order_acquire) == 0) return std::nullopt;
  std::lock_guard lk(g_fd_mu);
  const auto it = g_fds.find(fd);
  if (it == g_fds.end()) return std::nullopt;
  return it->second;
}

void insert(int fd, Entry e) {
  std::lock_guard lk(g_fd_mu);
  g_fds[fd] = e;
  g_fd_count.store(g_fds.size(), std::memory_order_release);
}

std::optional<Entry> take(int fd) {
  std::lock_guard lk(g_fd_mu);
  const auto it = g_fds.find(fd);
  if (it == g_fds.end()) return std::nullopt;
  const Entry e = it->second;
  g_fds.erase(it);
  g_fd_count.store(g_fds.size(), std::memory_order_release);
  return e;
}

// ------------------------------------------------------------ the simulated host
std::mutex g_init_mu;
SimThread* g_sim = nullptr;  // never destroyed: the thread is stopped at exit
bool g_init_failed = false;

void stop_at_exit() {
  if (g_sim) g_sim->stop();
}

SimThread* sim() {
  std::lock_guard lk(g_init_mu);
  if (g_sim || g_init_failed) return g_sim;
  try {
    g_sim = new SimThread(HostConfig::from_environment());
    std::atexit(stop_at_exit);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdevsim-vfio-host: %s\n", e.what());
    g_init_failed = true;
  }
  return g_sim;
}

// Runs fn on the simulation thread; false once it has ended (QEMU exiting
// while another of its threads still calls).
bool post(SimThread* s, const std::function<void(SimHost&)>& fn) {
  try {
    s->run(fn);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// VFIO state the kernel keeps outside the device: which groups are open and
// attached, whether the container has an IOMMU, whether the device is open.
// Touched only on the simulation thread.
struct VfioState {
  std::unordered_map<uint32_t, bool> groups;  // open groups -> attached to the container
  bool container_open = false;
  bool iommu_set = false;
  int device_fd = -1;
  bool any_attached() const {
    for (const auto& [g, attached] : groups)
      if (attached) return true;
    return false;
  }
};
VfioState g_vfio;

// v1's data section as QEMU maps it: a real shared anonymous mapping that
// mirrors the frontend's data buffer. The save side's staged buffer is copied
// out when QEMU reads data_size; the resume side's segment is copied in just
// before QEMU's data_size write hands it to the device.
struct Shadow {
  uint8_t* qemu;      // what mmap returned to QEMU
  uint8_t* frontend;  // Frontend::mmap of the same range
  size_t len;
};
std::mutex g_shadow_mu;  // QEMU's munmap may come from any thread
std::vector<Shadow> g_shadows;
std::atomic<size_t> g_shadow_count{0};

constexpr uint64_t kV1Region = uint64_t{VFIO_PCI_NUM_REGIONS} << 40;
constexpr uint64_t kV1DataSize = kV1Region + offsetof(vfio_device_migration_info, data_size);

void copy_shadows(uint64_t n, bool to_qemu) {
  std::lock_guard lk(g_shadow_mu);
  for (const auto& sh : g_shadows) {
    const size_t len = std::min<uint64_t>(n, sh.len);
    if (to_qemu)
      std::memcpy(sh.qemu, sh.frontend, len);
    else
      std::memcpy(sh.frontend, sh.qemu, len);
  }
}

// The device fd's pread/pwrite, with the v1 data section kept coherent.
long device_pread(SimHost& h, int in, void* buf, size_t len, uint64_t off) {
  const long r = h.pread(in, buf, len, off);
  if (r == 8 && off == kV1DataSize && g_shadow_count.load() > 0) {
    uint64_t n;
    std::memcpy(&n, buf, 8);
    copy_shadows(n, true);
  }
  return r;
}

long device_pwrite(SimHost& h, int in, const void* buf, size_t len, uint64_t off) {
  if (len == 8 && off == kV1DataSize && g_shadow_count.load() > 0) {
    uint64_t n;
    std::memcpy(&n, buf, 8);
    copy_shadows(n, false);
  }
  return h.call(&vfio::Frontend::pwrite, in, buf, len, off);
}

long done(SimHost& h, vfio::CallRecord r, long ret) {
  r.ret = ret;
  h.record(r);
  return ret;
}

long fail(SimHost& h, vfio::CallRecord r, int err, std::string why) {
  r.notes.push_back(vfio::errno_name(err) + ": " + std::move(why));
  return done(h, std::move(r), -err);
}

vfio::CallRecord call_record(const char* call, int fd, const char* kind, std::string request) {
  vfio::CallRecord r;
  r.call = call;
  r.fd = fd;
  r.fd_kind = kind;
  r.request = std::move(request);
  return r;
}

int new_eventfd() { return eventfd(0, EFD_CLOEXEC); }

std::optional<Kind> vfio_node(const char* path, uint32_t& group) {
  if (path == nullptr || std::strncmp(path, "/dev/vfio/", 10) != 0) return std::nullopt;
  const char* rest = path + 10;
  if (std::strcmp(rest, "vfio") == 0) return Kind::kContainer;
  if (*rest == '\0' || std::strlen(rest) > 9) return std::nullopt;
  for (const char* p = rest; *p; ++p)
    if (*p < '0' || *p > '9') return std::nullopt;
  group = static_cast<uint32_t>(std::strtoul(rest, nullptr, 10));
  return Kind::kGroup;
}

int set_errno(long r) {
  if (r >= 0) return static_cast<int>(r);
  errno = static_cast<int>(-r);
  return -1;
}

// ------------------------------------------------------------ open
int open_node(Kind kind, uint32_t group, const char* path) {
  SimThread* s = sim();
  if (s == nullptr) {
    errno = ENODEV;
    return -1;
  }
  long r = -ENODEV;
  post(s, [&](SimHost& h) {
    auto rec = call_record("open", -1, kind == Kind::kGroup ? "group" : "container", path);
    if (kind == Kind::kGroup && g_vfio.groups.count(group)) {
      r = fail(h, rec, EBUSY, "the group is already open");
      return;
    }
    if (kind == Kind::kContainer && g_vfio.container_open) {
      r = fail(h, rec, EBUSY, "one container per process is simulated");  // [sim]
      return;
    }
    const int fd = new_eventfd();
    if (fd < 0) {
      r = fail(h, rec, errno, "eventfd failed");
      return;
    }
    insert(fd, Entry{kind, -1, group, nullptr});
    if (kind == Kind::kGroup)
      g_vfio.groups[group] = false;
    else
      g_vfio.container_open = true;
    rec.fd = fd;
    r = done(h, rec, fd);
  });
  return set_errno(r);
}

// ------------------------------------------------------------ ioctl
long group_ioctl(SimHost& h, int fd, const Entry& e, unsigned long request, void* arg) {
  auto rec = call_record("ioctl", fd, "group", "");
  bool& attached = g_vfio.groups[e.group];
  switch (request) {
    case VFIO_GROUP_GET_STATUS: {
      rec.request = "VFIO_GROUP_GET_STATUS";
      auto* st = static_cast<vfio_group_status*>(arg);
      if (st == nullptr) return fail(h, rec, EFAULT, "no argument buffer");
      if (st->argsz < sizeof(*st)) return fail(h, rec, EINVAL, "argsz is smaller than 8");
      st->flags = VFIO_GROUP_FLAGS_VIABLE | (attached ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
      rec.args = std::string("flags=VIABLE") + (attached ? "|CONTAINER_SET" : "");
      return done(h, rec, 0);
    }
    case VFIO_GROUP_SET_CONTAINER: {
      rec.request = "VFIO_GROUP_SET_CONTAINER";
      const int* cfd = static_cast<const int*>(arg);
      if (cfd == nullptr) return fail(h, rec, EFAULT, "no argument");
      rec.args = "fd=" + std::to_string(*cfd);
      if (attached) return fail(h, rec, EINVAL, "the group already has a container");
      if (*cfd < 0) return fail(h, rec, EINVAL, "a negative fd");
      const auto c = lookup(*cfd);
      if (!c) {
        if (fcntl(*cfd, F_GETFD) < 0) return fail(h, rec, EBADF, "not an open fd");
        return fail(h, rec, EINVAL, "not a VFIO container fd");
      }
      if (c->kind != Kind::kContainer) return fail(h, rec, EINVAL, "not a VFIO container fd");
      attached = true;
      return done(h, rec, 0);
    }
    case VFIO_GROUP_UNSET_CONTAINER:
      rec.request = "VFIO_GROUP_UNSET_CONTAINER";
      if (!attached) return fail(h, rec, EINVAL, "the group has no container");
      if (g_vfio.device_fd >= 0) return fail(h, rec, EBUSY, "a device fd of the group is open");
      attached = false;
      if (!g_vfio.any_attached()) g_vfio.iommu_set = false;
      return done(h, rec, 0);
    case VFIO_GROUP_GET_DEVICE_FD: {
      rec.request = "VFIO_GROUP_GET_DEVICE_FD";
      const char* name = static_cast<const char*>(arg);
      if (name == nullptr) return fail(h, rec, EFAULT, "no name");
      rec.args = std::string("name=") + name;
      if (!attached || !g_vfio.iommu_set)
        return fail(h, rec, EINVAL, "the group has no container with an IOMMU set");
      if (name != h.config().device_name)
        return fail(h, rec, ENODEV, "no device '" + std::string(name) + "' in the group");
      if (g_vfio.device_fd >= 0) return fail(h, rec, EBUSY, "the device is already open");  // [sim]
      const int dfd = new_eventfd();
      if (dfd < 0) return fail(h, rec, errno, "eventfd failed");
      insert(dfd, Entry{Kind::kDevice, -1, e.group, nullptr});
      g_vfio.device_fd = dfd;
      return done(h, rec, dfd);
    }
  }
  rec.request = "ioctl " + std::to_string(request);
  return fail(h, rec, ENOTTY, "not an ioctl of a VFIO group");
}

long container_ioctl(SimHost& h, int fd, unsigned long request, void* arg) {
  const int cfd = h.frontend().container_fd();
  switch (request) {
    case VFIO_GET_API_VERSION:
    case VFIO_CHECK_EXTENSION:
      return h.call(&vfio::Frontend::ioctl, cfd, request, arg);
    case VFIO_SET_IOMMU: {
      auto rec = call_record("ioctl", cfd, "container", "VFIO_SET_IOMMU");
      if (!g_vfio.any_attached()) return fail(h, rec, EINVAL, "no group is attached");
      if (g_vfio.iommu_set) return fail(h, rec, EINVAL, "the IOMMU is already set");
      const long r = h.call(&vfio::Frontend::ioctl, cfd, request, arg);
      if (r == 0) g_vfio.iommu_set = true;
      return r;
    }
  }
  if (!g_vfio.iommu_set) {
    auto rec = call_record("ioctl", cfd, "container", "ioctl " + std::to_string(request));
    return fail(h, rec, EINVAL, "no IOMMU set: the container has no driver for this ioctl");
  }
  if (request == VFIO_IOMMU_MAP_DMA && arg != nullptr) {
    const auto m = *static_cast<const vfio_iommu_type1_dma_map*>(arg);
    const long r = h.call(&vfio::Frontend::ioctl, cfd, request, arg);
    if (r == 0) h.ram().map(m.iova, m.size, m.vaddr, m.flags & VFIO_DMA_MAP_FLAG_WRITE);
    return r;
  }
  if (request == VFIO_IOMMU_UNMAP_DMA && arg != nullptr) {
    const auto u = *static_cast<const vfio_iommu_type1_dma_unmap*>(arg);
    const long r = h.call(&vfio::Frontend::ioctl, cfd, request, arg);
    if (r == 0) h.ram().unmap(u.iova, u.size);
    return r;
  }
  (void)fd;
  return h.call(&vfio::Frontend::ioctl, cfd, request, arg);
}

// Every data fd QEMU holds; touched only on the simulation thread.
std::vector<std::weak_ptr<DataStream>> g_streams;

// The device changed state or was reset: bytes read ahead are not QEMU's to read.
void drop_read_ahead() {
  for (const auto& w : g_streams)
    if (const auto s = w.lock()) s->drop();
  std::erase_if(g_streams, [](const auto& w) { return w.expired(); });
}

long device_ioctl(SimHost& h, unsigned long request, void* arg) {
  auto& fe = h.frontend();
  bool set_state = false;
  if (request == VFIO_DEVICE_FEATURE && arg != nullptr) {
    const auto* f = static_cast<const vfio_device_feature*>(arg);
    set_state = (f->flags & VFIO_DEVICE_FEATURE_SET) && !(f->flags & VFIO_DEVICE_FEATURE_PROBE) &&
                (f->flags & VFIO_DEVICE_FEATURE_MASK) == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
  }
  const long r = h.call(&vfio::Frontend::ioctl, fe.device_fd(), request, arg);
  if (r == 0 && (set_state || request == VFIO_DEVICE_RESET)) drop_read_ahead();
  if (r == 0 && set_state) {
    auto* f = static_cast<vfio_device_feature*>(arg);
    auto* ms = reinterpret_cast<vfio_device_feature_mig_state*>(f->data);
    if (ms->data_fd >= 0) {
      // The frontend's own number stays inside; QEMU gets a real fd.
      const int efd = new_eventfd();
      if (efd < 0) {
        fe.close(ms->data_fd);
        return -EMFILE;
      }
      std::shared_ptr<DataStream> stream;
      if (h.config().stream_buffers) {
        stream = std::make_shared<DataStream>(*sim(), ms->data_fd);
        g_streams.push_back(stream);
      }
      insert(efd, Entry{Kind::kData, ms->data_fd, 0, stream});
      ms->data_fd = efd;
    }
  }
  return r;
}

long dispatch_ioctl(SimHost& h, int fd, const Entry& e, unsigned long request, void* arg) {
  switch (e.kind) {
    case Kind::kGroup:
      return group_ioctl(h, fd, e, request, arg);
    case Kind::kContainer:
      return container_ioctl(h, fd, request, arg);
    case Kind::kDevice:
      return device_ioctl(h, request, arg);
    case Kind::kData:
      return h.call(&vfio::Frontend::ioctl, e.inner, request, arg);
  }
  return -ENOTTY;
}

// The frontend fd a read/write/pread/pwrite on `e` goes to; groups have no
// such file operations.
int inner_fd(SimHost& h, const Entry& e) {
  switch (e.kind) {
    case Kind::kContainer:
      return h.frontend().container_fd();
    case Kind::kDevice:
      return h.frontend().device_fd();
    case Kind::kData:
      return e.inner;
    case Kind::kGroup:
      break;
  }
  return -1;
}

template <class F>
long serve(int fd, const Entry& e, F&& f) {
  long r = -ENODEV;
  SimThread* s = sim();
  if (s == nullptr) return -ENODEV;
  post(s, [&](SimHost& h) {
    const int in = inner_fd(h, e);
    if (in < 0) {
      r = fail(h, call_record("io", fd, "group", ""), EINVAL, "a group fd has no read or write");
      return;
    }
    r = f(h, in);
  });
  return r;
}

int close_node(int fd) {
  const auto e = take(fd);
  if (!e) return real().close(fd);
  if (SimThread* s = sim())
    post(s, [&](SimHost& h) {
      switch (e->kind) {
        case Kind::kData:
          if (e->stream) e->stream->drop();
          h.call(&vfio::Frontend::close, e->inner);
          break;
        case Kind::kDevice:
          g_vfio.device_fd = -1;
          done(h, call_record("close", h.frontend().device_fd(), "device", "fd"), 0);
          break;
        case Kind::kGroup:
          g_vfio.groups.erase(e->group);
          if (!g_vfio.any_attached()) g_vfio.iommu_set = false;
          done(h, call_record("close", fd, "group", "fd"), 0);
          break;
        case Kind::kContainer:
          g_vfio.container_open = false;
          done(h, call_record("close", h.frontend().container_fd(), "container", "fd"), 0);
          break;
      }
    });
  return real().close(fd);
}

int open_common(int dirfd, const char* path, int flags, mode_t mode) {
  uint32_t group = 0;
  if (const auto kind = vfio_node(path, group)) return open_node(*kind, group, path);
  return real().openat(dirfd, path, flags, mode);
}

mode_t mode_arg(int flags, va_list ap) {
  const bool needs = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
  return needs ? static_cast<mode_t>(va_arg(ap, int)) : 0;
}

[[noreturn]] void chk_fail() {
  auto f = next_symbol<void (*)()>("__chk_fail");
  if (f) f();
  std::abort();
}

// Not part of SimHost so that children never see it: clear our own entry
// from LD_PRELOAD at load, and keep SystemC's banner off QEMU's output.
__attribute__((constructor)) void at_load() {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  const char* pre = getenv("LD_PRELOAD");
  if (pre == nullptr) return;
  std::string kept, item, all = pre;
  for (size_t i = 0; i <= all.size(); ++i) {
    if (i == all.size() || all[i] == ':' || all[i] == ' ') {
      if (!item.empty() && item.find("mdevsim-vfio-host") == std::string::npos)
        kept += (kept.empty() ? "" : ":") + item;
      item.clear();
    } else {
      item += all[i];
    }
  }
  if (kept.empty())
    unsetenv("LD_PRELOAD");
  else
    setenv("LD_PRELOAD", kept.c_str(), 1);
}

}  // namespace
}  // namespace mdevsim::vfio_host

using namespace mdevsim::vfio_host;

// libsystemc references sc_main; QEMU has none. The simulation is driven by
// sc_start on the simulation thread, never through sc_main.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) { return 0; }

// open(2) in its eight glibc names: with or without a dirfd, variadic (the
// mode comes with O_CREAT / O_TMPFILE) or fortified (__*_2, never a mode).
#define MDEVSIM_OPEN(name, dirfd, ...)                                       \
  MDEVSIM_EXPORT int name(__VA_ARGS__ const char* path, int flags, ...) {    \
    va_list ap;                                                              \
    va_start(ap, flags);                                                     \
    const mode_t mode = mode_arg(flags, ap);                                 \
    va_end(ap);                                                              \
    return open_common(dirfd, path, flags, mode);                            \
  }                                                                          \
  MDEVSIM_EXPORT int __##name##_2(__VA_ARGS__ const char* path, int flags) { \
    return open_common(dirfd, path, flags, 0);                               \
  }
MDEVSIM_OPEN(open, AT_FDCWD)
MDEVSIM_OPEN(open64, AT_FDCWD)
MDEVSIM_OPEN(openat, dirfd, int dirfd, )
MDEVSIM_OPEN(openat64, dirfd, int dirfd, )
#undef MDEVSIM_OPEN

MDEVSIM_EXPORT int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  const auto e = lookup(fd);
  if (!e) return real().ioctl(fd, request, arg);
  SimThread* s = sim();
  if (s == nullptr) return set_errno(-ENODEV);
  long r = -ENOTTY;
  if (!post(s, [&](SimHost& h) { r = dispatch_ioctl(h, fd, *e, request, arg); })) r = -ENODEV;
  return set_errno(r);
}

MDEVSIM_EXPORT ssize_t pread64(int fd, void* buf, size_t len, off_t offset) {
  const auto e = lookup(fd);
  if (!e) return real().pread(fd, buf, len, offset);
  return set_errno(serve(fd, *e, [&](SimHost& h, int in) {
    return device_pread(h, in, buf, len, static_cast<uint64_t>(offset));
  }));
}
MDEVSIM_EXPORT ssize_t pread(int fd, void* buf, size_t len, off_t offset) {
  return pread64(fd, buf, len, offset);
}
MDEVSIM_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t len, off_t offset, size_t buflen) {
  if (len > buflen) chk_fail();
  return pread64(fd, buf, len, offset);
}
MDEVSIM_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t len, off_t offset, size_t buflen) {
  if (len > buflen) chk_fail();
  return pread64(fd, buf, len, offset);
}
MDEVSIM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t len, off_t offset) {
  const auto e = lookup(fd);
  if (!e) return real().pwrite(fd, buf, len, offset);
  return set_errno(serve(fd, *e, [&](SimHost& h, int in) {
    return device_pwrite(h, in, buf, len, static_cast<uint64_t>(offset));
  }));
}
MDEVSIM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) {
  return pwrite64(fd, buf, len, offset);
}
MDEVSIM_EXPORT ssize_t read(int fd, void* buf, size_t len) {
  const auto e = lookup(fd);
  if (!e) return real().read(fd, buf, len);
  if (e->stream) return set_errno(e->stream->read(buf, len));
  return set_errno(serve(fd, *e, [&](SimHost& h, int in) {
    return h.call(&mdevsim::vfio::Frontend::read, in, buf, len);
  }));
}
MDEVSIM_EXPORT ssize_t __read_chk(int fd, void* buf, size_t len, size_t buflen) {
  if (len > buflen) chk_fail();
  return read(fd, buf, len);
}
MDEVSIM_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  const auto e = lookup(fd);
  if (!e) return real().write(fd, buf, len);
  if (e->stream) return set_errno(e->stream->write(buf, len));
  return set_errno(serve(fd, *e, [&](SimHost& h, int in) {
    return h.call(&mdevsim::vfio::Frontend::write, in, buf, len);
  }));
}
MDEVSIM_EXPORT int close(int fd) { return close_node(fd); }

MDEVSIM_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  const auto e = lookup(fd);
  if (!e) return real().mmap(addr, len, prot, flags, fd, offset);
  SimThread* s = sim();
  if (s == nullptr || e->kind != Kind::kDevice) {
    errno = ENODEV;
    return MAP_FAILED;
  }
  void* out = MAP_FAILED;
  int err = ENODEV;
  post(s, [&](SimHost& h) {
    auto* inside = static_cast<uint8_t*>(
        h.frontend().mmap(h.frontend().device_fd(), static_cast<uint64_t>(offset), len));
    auto rec = call_record("mmap", h.frontend().device_fd(), "device", "mmap");
    rec.args = "offset=" + std::to_string(offset) + " len=" + std::to_string(len);
    if (inside == nullptr) {
      err = EINVAL;
      fail(h, rec, EINVAL, "no mmap-able area at this offset");
      return;
    }
    void* m = real().mmap(addr, len, prot, (flags & ~MAP_TYPE) | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      err = errno;
      fail(h, rec, err, "no memory for the mapping");
      return;
    }
    std::memcpy(m, inside, len);
    {
      std::lock_guard lk(g_shadow_mu);
      g_shadows.push_back({static_cast<uint8_t*>(m), inside, len});
      g_shadow_count.store(g_shadows.size());
    }
    rec.notes.push_back("the data section is mirrored in a shared mapping");
    done(h, rec, 0);
    out = m;
  });
  if (out == MAP_FAILED) errno = err;
  return out;
}
MDEVSIM_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  return mmap64(addr, len, prot, flags, fd, offset);
}
MDEVSIM_EXPORT int munmap(void* addr, size_t len) {
  // Forget a shadow before its address can be reused.
  if (g_shadow_count.load() > 0) {
    std::lock_guard lk(g_shadow_mu);
    std::erase_if(g_shadows, [&](const Shadow& sh) { return sh.qemu == addr; });
    g_shadow_count.store(g_shadows.size());
  }
  return real().munmap(addr, len);
}
