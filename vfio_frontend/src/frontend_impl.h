// Private to vfio_frontend/src: the state behind one Frontend and the
// handlers of each ABI area. Each area's handlers live in their own file:
//   call_trace.cpp       begin/finish of every call, notes, counters, errno names
//   device_ioctl.cpp     device fd ioctls common to both protocols, regions, PCI face
//   device_state.cpp     v2: VFIO_DEVICE_FEATURE and the migration state machine
//   data_fd.cpp          v2 data fds: read/write, PRECOPY_INFO, the splice fast path
//   postcopy.cpp         the post-copy proposal: REQUEST/FAULTS, the fault eventfd
//   v1_region.cpp        v1: the migration region's fields and device_state writes
//   type1_container.cpp  the type1 container: mappings and dirty pages
//   dma_logging.cpp      device DMA logging (features 6/7/8)
#pragma once

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/pci_face.h"
#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi_kernel.h"
#include "mdevsim/vfio/uapi_proposals.h"

namespace mdevsim::vfio {

constexpr uint32_t kMigrationRegionIndex = VFIO_PCI_NUM_REGIONS;  // first device-specific region
constexpr uint64_t kRegionShift = 40;                             // vfio-pci's offset convention
constexpr uint64_t kV1DataOffset = 4096;                          // header page, then data section
constexpr uint64_t kIommuPage = 4096;
constexpr uint64_t kMaxDirtyBitmap = uint64_t{256} << 20;
constexpr uint64_t kDmaEntryLimit = 65535;  // vfio_iommu_type1's dma_entry_limit default
constexpr uint32_t kNumIrqs = PciIrqs::kNumIrqs;

// v1 field offsets and widths in struct vfio_device_migration_info.
constexpr uint64_t kOffState = offsetof(vfio_device_migration_info, device_state);
constexpr uint64_t kOffReserved = offsetof(vfio_device_migration_info, reserved);
constexpr uint64_t kOffPending = offsetof(vfio_device_migration_info, pending_bytes);
constexpr uint64_t kOffDataOffset = offsetof(vfio_device_migration_info, data_offset);
constexpr uint64_t kOffDataSize = offsetof(vfio_device_migration_info, data_size);

// The v1 migration-info field at `off` by name ("pending_bytes", "data[+8]").
std::string v1_field_name(uint64_t off);
// The errno a device driver returns for a stream error (mtty's choices).
int stream_errno(models::StreamError e);

// A v2 migration data file (what data_fd refers to).
struct DataFile {
  bool save = true;
  bool active = true;  // false once the session ended: I/O gives ENODEV
  int latched = 0;     // resume: first error, repeated afterwards
  std::unique_ptr<models::SaveStream> saver;
  std::unique_ptr<models::ResumeStream> resumer;
};

// An eventfd the frontend created (the post-copy fault eventfd): a counter,
// and whoever sleeps in poll() on it (the simulator's stand-in for the wait
// queue: Frontend::set_poll_wake).
struct EventFile {
  uint64_t count = 0;
  std::function<void()> wake;
};

struct Frontend::Impl {
  Impl(models::MigratableDevice& d, FrontendOptions o)
      : dev(d), opt(std::move(o)), pci(pci_bar_size(dev.mmio_size())) {
    if (opt.protocol == Protocol::kV1) data_section.resize(opt.v1_data_section_size);
    state = proto().default_state;
    if (opt.premap_guest_ram)
      mappings.push_back({0, opt.guest_ram_bytes});  // guest RAM mapped 1:1 for device DMA
  }
  ~Impl() { stop_fault_signal(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  models::MigratableDevice& dev;
  FrontendOptions opt;
  PciConfigSpace pci;  // region 7; BAR0 (region 0) is the device's MMIO
  PciIrqs irqs;
  CallObserver* observer = nullptr;
  static constexpr int kContainerFd = 3, kDeviceFd = 4;
  int next_fd = 5;
  std::map<int, std::shared_ptr<DataFile>> fds;
  std::shared_ptr<DataFile> session;  // the device's current v2 data file
  std::map<int, std::shared_ptr<EventFile>> eventfds;
  std::shared_ptr<EventFile> fault_event;  // signalled by the device's faults, or null
  int fault_eventfd = -1;

  // v2: index into proto().states (the protocol file decides names and values)
  size_t state = 0;

  // v1
  uint32_t v1_state = VFIO_DEVICE_STATE_V1_RUNNING;
  std::unique_ptr<models::SaveStream> v1_saver;
  std::unique_ptr<models::ResumeStream> v1_resumer;
  enum class V1Phase { kIdle, kStarted, kStaged } v1_phase = V1Phase::kIdle;
  uint64_t v1_data_size = 0;
  std::vector<uint8_t> data_section;

  // type1 container
  uint32_t iommu_type = VFIO_TYPE1v2_IOMMU;
  bool dirty_tracking = false;
  struct Mapping {
    uint64_t iova, size;
  };
  std::vector<Mapping> mappings;

  // DMA logging (device features 6/7/8)
  bool logging = false;
  uint64_t logging_page_size = 0;

  // counters
  std::vector<std::pair<std::string, uint64_t>> call_counts, errno_counts;
  CallRecord rec;  // the call being handled

  // ---------------------------------------------------------------- helpers
  bool v1() const { return opt.protocol == Protocol::kV1; }
  uint64_t flags() const { return opt.migration_flags; }
  const ProtocolSpec& proto() const {
    return opt.protocol_def ? *opt.protocol_def : builtin_protocol_v2();
  }
  // v2 state names come from the protocol (proposals add states).
  const std::string& sname(size_t s) const { return proto().states[s].name; }
  std::string state_str() const { return v1() ? v1::bits(v1_state) : sname(state); }

  void bump(std::vector<std::pair<std::string, uint64_t>>& v, const std::string& k);

  void begin(const char* call, int fd, std::string request);
  long finish(long ret);
  long fail(int err, std::string why);
  void note(std::string n) { rec.notes.push_back(std::move(n)); }

  int new_fd(std::shared_ptr<DataFile> f) {
    const int fd = next_fd++;
    fds[fd] = f;
    return fd;
  }
  void end_session() {
    stop_fault_signal();
    if (session) {
      session->active = false;
      session->saver.reset();
      session->resumer.reset();
    }
    session.reset();
  }

  // ------------------------------------------------------------ v2 arcs
  // Performs one single arc; may open a data fd (returned through new_fd_out).
  int do_arc(size_t from, size_t to, int& new_fd_out);
  // The arc's data-session effect; 0 or -errno (the device may be in error).
  int arc_session(const ProtocolArc& arc, const ProtocolState& a, const ProtocolState& b,
                  int& new_fd_out);
  void open_save(DataRule rule, int& new_fd_out);
  void open_resume(int& new_fd_out);
  void start_serving();
  int end_resume(const ProtocolState& a, const ProtocolState& b);
  // A failed arc: the session is dropped and the device is in the protocol's
  // error state (a file without one leaves it where it was).
  int enter_error(int err, std::string why);
  std::string error_state_name() const;

  long set_state(vfio_device_feature_mig_state& ms);

  // ------------------------------------------------------------ features
  long device_feature(void* arg);

  long logging_start(vfio_device_feature_dma_logging_control& c);

  long logging_report(vfio_device_feature_dma_logging_report& r);

  // ------------------------------------------------------------ device fd
  long device_ioctl(unsigned long request, void* arg);

  uint64_t v1_region_size() const;

  long region_info(void* arg);

  // ------------------------------------------------------------ v1 region
  long v1_write_state(uint32_t value);

  // The data fields follow the session, not raw bits: 110b (the error state)
  // has both _SAVING and _RESUMING set and no session at all.
  bool v1_saving() const;
  bool v1_resuming() const;

  uint64_t v1_pending() const;

  long v1_read_field(uint64_t off, void* buf);

  long v1_write_field(uint64_t off, const void* buf);

  long region_access(bool write, void* buf, size_t len, uint64_t offset);

  // Config space, or BAR0 as 32-bit registers (narrower accesses read or
  // merge into the containing register; unmapped registers read 0).
  long pci_access(bool config, bool write, void* buf, size_t len, uint64_t off);

  // ------------------------------------------------------------ container
  long container_ioctl(unsigned long request, void* arg);

  // vfio_iommu_type1_get_info(): the MIGRATION and DMA_AVAIL capabilities,
  // packed one after the other. No IOVA_RANGE: a container holding only an
  // mdev (an emulated-IOMMU group) has an empty IOVA list, and
  // vfio_iommu_iova_build_caps() then adds nothing. A large enough argsz is
  // left as passed; a smaller one is raised to the size needed.
  long iommu_info(void* arg);

  // The kernel's dma_entry_limit default (U16_MAX) less the mappings made.
  uint32_t dma_avail() const;

  // vfio_find_dma(): the mapping that overlaps [iova, iova + size), if any.
  const Mapping* find_mapping(uint64_t iova, uint64_t size) const;

  // The check GET_BITMAP and a v2 unmap share: the range must not cut a
  // mapping in two. Ends in unmapped holes are fine.
  bool splits_a_mapping(uint64_t iova, uint64_t size) const;

  // verify_bitmap_size(): the bitmap must hold one bit per page of `size`.
  static bool bitmap_size_ok(uint64_t size, const vfio_bitmap& b);

  // update_user_bitmap() for one mapping inside [base, ...): its dirty pages
  // are the pages the device has pinned (type1 re-marks them in every
  // report). Returns the pages marked, or -1 when the bitmap cannot be
  // written (EFAULT).
  long mark_pinned(uint64_t* bitmap, uint64_t base, const Mapping& m);

  // vfio_iommu_type1_unmap_dma() and vfio_dma_do_unmap().
  long unmap_dma(void* arg);

  long dirty_pages(void* arg);

  // ------------------------------------------------------------ data fds
  long postcopy_ioctl(DataFile& f, unsigned long request, void* arg);
  long postcopy_request(DataFile& f, vfio_mig_postcopy_request& r);
  long postcopy_faults(DataFile& f, vfio_mig_postcopy_faults& q);
  // The fault eventfd: created by FAULTS_EVENTFD, signalled by the device
  // until the resume session ends (or the fd is closed).
  int open_fault_eventfd();
  void stop_fault_signal();
  long eventfd_read(EventFile& e, void* buf, size_t len);
  long eventfd_write(EventFile& e, const void* buf, size_t len);

  long data_ioctl(DataFile& f, unsigned long request, void* arg);

  long data_read(DataFile& f, void* buf, size_t len);

  long data_write(DataFile& f, const void* buf, size_t len);
};

}  // namespace mdevsim::vfio
