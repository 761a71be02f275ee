// What a user-space VMM sees of one host's VFIO migration ABI.
//
// A Frontend is one host's view: a type1 container fd, one device fd (the
// migratable device behind models::MigratableDevice) and the data fds that
// protocol v2 hands out. Calls have the kernel's shapes and return -errno on
// failure, exactly as the kernel would answer the same call:
//
//   long    ioctl(fd, request, arg)        request codes from <linux/vfio.h>
//   ssize_t pread/pwrite(fd, buf, len, off) device regions (v1 migration region)
//   ssize_t read/write(fd, buf, len)       v2 data fds (stream semantics)
//   int     close(fd)
//
// Which fd receives an ioctl decides its meaning (the numbers are reused
// across fd types), as in the kernel.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/models/device_api/migration_port.h"

namespace mdevsim::vfio {

struct ProtocolSpec;

enum class Protocol { kV1, kV2 };

// v2 VFIO_DEVICE_FEATURE_MIGRATION flags (values as in the uAPI).
inline constexpr uint64_t kMigrationStopCopy = 1u << 0;
inline constexpr uint64_t kMigrationP2P = 1u << 1;
inline constexpr uint64_t kMigrationPreCopy = 1u << 2;

// Which kernel's answer where the ABI changed between kernel generations.
enum class KernelGeneration {
  // Current kernels: an unknown feature index on a driver without a
  // device_feature op is ENOTTY (commit 16df67f2189a, 2025; 6.12.y stable, 6.17+).
  kCurrent,
  // Linux 5.18 up to that fix: the same call is EINVAL.
  kBefore2025,
};

struct FrontendOptions {
  Protocol protocol = Protocol::kV2;
  KernelGeneration kernel = KernelGeneration::kCurrent;
  // v2: the protocol file whose states and arcs the device implements
  // (null: the shipped v2.json). Proposals add states such as post-copy.
  std::shared_ptr<const ProtocolSpec> protocol_def;
  uint64_t migration_flags = kMigrationStopCopy | kMigrationP2P | kMigrationPreCopy;

  // v1: also refuse the writes libvfio-user's migr_states[] table (2021)
  // refuses, for negative testing. mdevsim follows the table as intended,
  // not as compiled: its operator-precedence slip is corrected (011b -> 001b
  // refused; same-state writes such as 011b -> 011b accepted), and its
  // "any -> 110b" entries are not followed (110b is never accepted as a
  // target, strict or not). The arcs are the "strict" flags of
  // scenarios/protocols/v1.json. The default accepts any valid target while
  // not in 110b, as the reference recommends.
  bool v1_strict = false;
  uint64_t v1_data_section_size = uint64_t{1} << 20;

  // v2 PRE_COPY with nothing to read: ENOMSG (mlx5, the uAPI text) or 0 (mtty).
  bool precopy_empty_enomsg = true;

  // Post-copy background push order (REQUEST_HOT_FIRST is the VMM's hint).
  bool postcopy_hot_first = true;

  // Guest memory visible to device DMA (IOVA == GPA, no vIOMMU).
  uint64_t guest_ram_bytes = uint64_t{1} << 30;
  // true: guest RAM [0, guest_ram_bytes) starts mapped in the container (the
  // simulator's driver never maps); false: mappings come only from the VMM's
  // VFIO_IOMMU_MAP_DMA, as with a real kernel (vfio_host/ serving QEMU).
  bool premap_guest_ram = true;
  // v1: advertise the data section as mmap-able (FLAG_MMAP + sparse area).
  // Only for callers that use Frontend::mmap; a VMM whose mmap of the fd
  // cannot reach the section must see a pread/pwrite-only region.
  bool v1_data_mmap = true;
  uint32_t guest_page_size = 4096;

  // Fault injection. fail_arc: the single arc from → to (state values of the
  // active protocol) fails with EIO and leaves the device in its error state.
  // Set later with Frontend::inject_arc_failure.
  std::optional<std::pair<uint32_t, uint32_t>> fail_arc;
  std::optional<uint64_t> corrupt_save_stream_at;  // flip this stream byte
};

// One frontend call, as the ABI trace, `mdevsim step` and reports show it.
struct CallRecord {
  std::string call;  // "ioctl", "pread", "read", ...
  int fd = -1;
  std::string fd_kind;  // "container", "device", "data"
  std::string request;  // decoded: "VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE)", field name, ...
  std::string args;     // decoded arguments
  long ret = 0;         // return value (bytes, 0, or -errno)
  std::string state_before;  // protocol state names ("PRE_COPY", "011b")
  std::string state_after;
  std::vector<std::string> path;   // v2 SET: states walked, first = before
  std::vector<std::string> notes;  // the rules that decided the outcome, in plain words
};

class CallObserver {
 public:
  virtual ~CallObserver() = default;
  virtual void on_call(const CallRecord& record) = 0;
};

class Frontend {
 public:
  Frontend(models::MigratableDevice& device, FrontendOptions options);
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  int container_fd() const;
  int device_fd() const;

  long ioctl(int fd, unsigned long request, void* arg);
  ssize_t pread(int fd, void* buf, size_t len, uint64_t offset);
  ssize_t pwrite(int fd, const void* buf, size_t len, uint64_t offset);
  ssize_t read(int fd, void* buf, size_t len);
  ssize_t write(int fd, const void* buf, size_t len);
  int close(int fd);
  // v1 data section through its sparse-mmap area: a pointer into the data
  // buffer, or nullptr (no such area / not mappable).
  void* mmap(int fd, uint64_t offset, size_t len);

  // Simulator-only fast path (not kernel ABI): moves up to len stream bytes
  // from a save data fd of this frontend into a resume data fd of `dst`
  // without materialising them. Same result as read() + dst.write(), and
  // observed as exactly that: this frontend records a read() of save_fd,
  // `dst` a write() of resume_fd (no call named "splice" exists). Returns
  // the read's result, or the write's -errno when the destination refused.
  ssize_t splice_to(int save_fd, Frontend& dst, int resume_fd, size_t len);

  // poll(2) for POLLIN on an fd this frontend made: POLLIN when an eventfd's
  // count is not 0, else 0; -EBADF for no such fd, -EINVAL [sim] for fds
  // other than eventfds. Traced and counted as a call.
  long poll(int fd);
  // Simulator plumbing, not a call: `wake` runs every time the eventfd `fd`
  // is signalled (what wakes a thread asleep in poll(2) on it; the VMM turns
  // it into an sc_event). False when fd is no eventfd of this frontend.
  bool set_poll_wake(int fd, std::function<void()> wake);

  void set_observer(CallObserver* observer);

  // Fault hook for the simulator and tests (not ABI): from now on the single
  // arc from -> to (state values of the active protocol; v1: bit patterns)
  // fails with EIO and leaves the device in its error state, exactly as
  // FrontendOptions::fail_arc set at construction. Replaces an earlier one.
  void inject_arc_failure(uint32_t from_value, uint32_t to_value);

  // Introspection for tools (not ABI): current protocol state as its name.
  std::string state_name() const;
  uint32_t state_value() const;
  const FrontendOptions& options() const;
  // Counts per call kind and per errno name, for result JSON "abi".
  const std::vector<std::pair<std::string, uint64_t>>& call_counts() const;
  const std::vector<std::pair<std::string, uint64_t>>& errno_counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Kernel errno name for a positive errno value ("EINVAL"), or "E<n>".
std::string errno_name(int err);

}  // namespace mdevsim::vfio
