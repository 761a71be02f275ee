// One host's VFIO migration ABI over a MigratableDevice. Every rule here is
// the kernel's (vfio_main.c core checks, vfio_iommu_type1 dirty tracking,
// the uAPI text of protocols v1 and v2) or marked [sim] where the ABI leaves
// the choice to the driver.
#include "mdevsim/vfio/frontend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/pci_face.h"
#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi.h"

namespace mdevsim::vfio {

namespace {

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

std::string v1_field_name(uint64_t off) {
  switch (off) {
    case kOffState:
      return "device_state";
    case kOffReserved:
      return "reserved";
    case kOffPending:
      return "pending_bytes";
    case kOffDataOffset:
      return "data_offset";
    case kOffDataSize:
      return "data_size";
  }
  return off >= kV1DataOffset ? "data[+" + std::to_string(off - kV1DataOffset) + "]"
                              : "offset " + std::to_string(off);
}

const char* feature_name(uint32_t f) {
  switch (f) {
    case VFIO_DEVICE_FEATURE_PCI_VF_TOKEN:
      return "PCI_VF_TOKEN";
    case VFIO_DEVICE_FEATURE_MIGRATION:
      return "MIGRATION";
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
      return "MIG_DEVICE_STATE";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
      return "DMA_LOGGING_START";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
      return "DMA_LOGGING_STOP";
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
      return "DMA_LOGGING_REPORT";
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
      return "MIG_DATA_SIZE";
  }
  return "feature";
}

const char* mig_name(MigState s) { return state_name(s); }

bool pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

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

}  // namespace

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

// A v2 migration data file (what data_fd refers to).
struct DataFile {
  bool save = true;
  bool active = true;  // false once the session ended: I/O gives ENODEV
  int latched = 0;     // resume: first error, repeated afterwards
  std::unique_ptr<models::SaveStream> saver;
  std::unique_ptr<models::ResumeStream> resumer;
};

struct Frontend::Impl {
  Impl(models::MigratableDevice& d, FrontendOptions o)
      : dev(d), opt(std::move(o)), pci(pci_bar_size(dev.mmio_size())) {
    if (opt.protocol == Protocol::kV1) data_section.resize(opt.v1_data_section_size);
    if (opt.premap_guest_ram)
      mappings.push_back({0, opt.guest_ram_bytes});  // guest RAM mapped 1:1 for device DMA
  }

  models::MigratableDevice& dev;
  FrontendOptions opt;
  PciConfigSpace pci;  // region 7; BAR0 (region 0) is the device's MMIO
  PciIrqs irqs;
  CallObserver* observer = nullptr;
  static constexpr int kContainerFd = 3, kDeviceFd = 4;
  int next_fd = 5;
  std::map<int, std::shared_ptr<DataFile>> fds;
  std::shared_ptr<DataFile> session;  // the device's current v2 data file

  // v2
  MigState state = MigState::kRunning;

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
  std::string sname(MigState s) const {
    const auto i = proto().by_value(static_cast<uint32_t>(s));
    return i ? proto().states[*i].name : mig_name(s);
  }
  std::optional<size_t> sidx(MigState s) const {
    return proto().by_value(static_cast<uint32_t>(s));
  }
  std::string state_str() const { return v1() ? v1::bits(v1_state) : sname(state); }

  void bump(std::vector<std::pair<std::string, uint64_t>>& v, const std::string& k) {
    for (auto& [name, n] : v)
      if (name == k) {
        ++n;
        return;
      }
    v.emplace_back(k, 1);
  }

  void begin(const char* call, int fd, std::string request) {
    rec = CallRecord{};
    rec.call = call;
    rec.fd = fd;
    rec.fd_kind = fd == kContainerFd ? "container"
                  : fd == kDeviceFd  ? "device"
                  : fds.count(fd)    ? "data"
                                     : "unknown";
    rec.request = std::move(request);
    rec.state_before = state_str();
  }
  long finish(long ret) {
    rec.ret = ret;
    rec.state_after = state_str();
    bump(call_counts, rec.call + " " + rec.request.substr(0, rec.request.find('(')));
    if (ret < 0) bump(errno_counts, errno_name(static_cast<int>(-ret)));
    if (observer) observer->on_call(rec);
    return ret;
  }
  long fail(int err, std::string why) {
    rec.notes.push_back(errno_name(err) + ": " + std::move(why));
    return -err;
  }
  void note(std::string n) { rec.notes.push_back(std::move(n)); }

  int new_fd(std::shared_ptr<DataFile> f) {
    const int fd = next_fd++;
    fds[fd] = f;
    return fd;
  }
  void end_session() {
    if (session) {
      session->active = false;
      session->saver.reset();
      session->resumer.reset();
    }
    session.reset();
  }

  // ------------------------------------------------------------ v2 arcs
  // Performs one single arc; may open a data fd (returned through new_fd_out).
  int do_arc(MigState from, MigState to, int& new_fd_out) {
    using S = MigState;
    if (opt.fail_arc && opt.fail_arc->first == static_cast<uint32_t>(from) &&
        opt.fail_arc->second == static_cast<uint32_t>(to)) {
      end_session();
      state = S::kError;
      return static_cast<int>(fail(EIO, std::string("injected fault: the device failed the arc ") +
                                            sname(from) + " -> " + sname(to) + " and is in ERROR"));
    }
    auto open_save = [&](bool stopped) {
      auto f = std::make_shared<DataFile>();
      f->save = true;
      f->saver = dev.open_save_stream();
      if (opt.corrupt_save_stream_at) f->saver->corrupt_at(*opt.corrupt_save_stream_at);
      if (stopped) f->saver->finalize();
      session = f;
      new_fd_out = new_fd(f);
      note("a new save data fd " + std::to_string(new_fd_out) + " streams the device state" +
           (stopped ? "" : " while the device keeps running (pre-copy)"));
    };
    // Arcs that only protocol proposals define, by their data-session effect.
    if (const auto* arc = proto().arc(*sidx(from), *sidx(to), flags())) {
      const DataRule from_data = proto().states[arc->from].data;
      const DataRule to_data = proto().states[arc->to].data;
      if (arc->session == ArcSession::kServe ||
          (arc->session == ArcSession::kOpenSave && to_data == DataRule::kServe)) {
        dev.set_running(false);
        dev.set_p2p_quiesced(false);
        if (arc->session == ArcSession::kOpenSave) open_save(true);
        session->saver->finalize_postcopy();
        note(
            "the device stopped; the save fd now carries the switch package (state and the list "
            "of missing pages), then only the pages asked for with VFIO_MIG_POSTCOPY_REQUEST");
        state = to;
        return 0;
      }
      if (arc->session == ArcSession::kCommitKeep) {
        const auto st = session->resumer->commit_partial();
        if (!st.ok()) {
          end_session();
          state = S::kError;
          return static_cast<int>(fail(EINVAL, "the switch package was rejected (" + st.message +
                                                   "); the device is in ERROR until reset"));
        }
        dev.set_running(true);
        note("the device runs with " + std::to_string(dev.missing_pages()) +
             " pages still at the source: touching one faults (VFIO_MIG_POSTCOPY_FAULTS)");
        state = to;
        return 0;
      }
      if (arc->session == ArcSession::kEndResume && from_data == DataRule::kResumeRunning) {
        if (dev.missing_pages() > 0)
          return static_cast<int>(fail(EINVAL, std::to_string(dev.missing_pages()) +
                                                   " pages have not arrived: the device stays in " +
                                                   sname(from)));
        session->resumer->commit();
        end_session();
        note("every page has arrived: the resume session ends");
        state = to;
        return 0;
      }
      if (arc->session == ArcSession::kEndSave && from_data == DataRule::kServe) {
        end_session();
        note("serving ends: the save fd now fails with ENODEV");
        state = to;
        return 0;
      }
    }
    if (from == S::kStop && to == S::kStopCopy) {
      open_save(true);
    } else if (from == S::kStopCopy && to == S::kStop) {
      end_session();
      note("leaving STOP_COPY ends the save session: its fd now fails with ENODEV");
    } else if (from == S::kStop && to == S::kResuming) {
      auto f = std::make_shared<DataFile>();
      f->save = false;
      f->resumer = dev.open_resume_stream();
      session = f;
      new_fd_out = new_fd(f);
      note("a new resume data fd " + std::to_string(new_fd_out) + " accepts the device state");
    } else if (from == S::kResuming && to == S::kStop) {
      auto& r = session->resumer;
      models::StreamStatus st;
      if (session->latched != 0)
        st = {models::StreamError::kCorrupt, "the resume stream already failed"};
      else
        st = r->commit();
      end_session();
      if (!st.ok()) {
        state = S::kError;
        return static_cast<int>(
            fail(stream_errno(st.error) == EFAULT ? EINVAL : stream_errno(st.error),
                 "RESUMING -> STOP loads and validates the image, and it was rejected (" +
                     st.message + "); the device is in ERROR until reset"));
      }
      note("RESUMING -> STOP loaded and validated the whole image");
    } else if ((from == S::kRunning || from == S::kRunningP2P) && to == S::kStop) {
      dev.set_running(false);
      dev.set_p2p_quiesced(false);
      note("the device stopped: no DMA, no state change until it runs again");
    } else if (from == S::kStop && (to == S::kRunning || to == S::kRunningP2P)) {
      dev.set_p2p_quiesced(to == S::kRunningP2P);
      dev.set_running(true);
      note(to == S::kRunning ? "the device runs again"
                             : "the device runs again, still without starting peer-to-peer DMA");
    } else if (from == S::kRunning && to == S::kRunningP2P) {
      dev.set_p2p_quiesced(true);
      note("RUNNING_P2P: the device still runs but starts no new peer-to-peer DMA");
    } else if (from == S::kRunningP2P && to == S::kRunning) {
      dev.set_p2p_quiesced(false);
      note("RUNNING_P2P -> RUNNING: peer-to-peer DMA is allowed again");
    } else if ((from == S::kRunning && to == S::kPreCopy) ||
               (from == S::kRunningP2P && to == S::kPreCopyP2P)) {
      open_save(false);
    } else if ((from == S::kPreCopy && to == S::kRunning) ||
               (from == S::kPreCopyP2P && to == S::kRunningP2P)) {
      end_session();
      note("leaving the saving group ends the save session");
    } else if (from == S::kPreCopy && to == S::kPreCopyP2P) {
      dev.set_p2p_quiesced(true);
      note("PRE_COPY_P2P: still pre-copying on the same fd, no new peer-to-peer DMA");
    } else if (from == S::kPreCopyP2P && to == S::kPreCopy) {
      dev.set_p2p_quiesced(false);
      note("PRE_COPY_P2P -> PRE_COPY: peer-to-peer DMA is allowed again; same fd");
    } else if ((from == S::kPreCopy || from == S::kPreCopyP2P) && to == S::kStopCopy) {
      dev.set_running(false);
      dev.set_p2p_quiesced(false);
      session->saver->finalize();
      note("the device stopped; the same data fd now carries the final state and then ends");
    } else {
      return static_cast<int>(fail(EINVAL, "no such single arc"));
    }
    state = to;
    return 0;
  }

  long set_state(vfio_device_feature_mig_state& ms) {
    ms.data_fd = -1;
    const auto& p = proto();
    const auto target_i = p.by_value(ms.device_state);
    if (!target_i)
      return fail(EINVAL, "device_state " + std::to_string(ms.device_state) + " is not a state");
    const auto target = static_cast<MigState>(ms.device_state);
    rec.args = "device_state=" + sname(target);
    rec.path.push_back(sname(state));
    if (state == MigState::kError)
      return fail(EINVAL, "the device is in ERROR: only VFIO_DEVICE_RESET leaves it");
    if (target == state) {
      note("already in " + sname(state) + ": nothing to do, no new fd");
      return 0;
    }
    if (!p.supported(*target_i, flags())) {
      if (p.states[*target_i].attrs & kAttrError) return fail(EINVAL, "ERROR cannot be requested");
      return fail(EINVAL, sname(target) + " is not advertised by this device (" +
                              p.features_name(flags()) + ")");
    }
    int fd = -1;
    while (state != target) {
      size_t next_i = 0;
      if (p.next_step(*sidx(state), *target_i, flags(), next_i) != 0)
        return fail(EINVAL, sname(state) + " -> " + sname(target) +
                                " is a blocked arc: no path leads there");
      if (fd >= 0) return fail(EINVAL, "a data fd was produced by an interior arc");
      const auto next = static_cast<MigState>(p.states[next_i].value);
      const int err = do_arc(state, next, fd);
      rec.path.push_back(sname(state));
      if (err != 0) return err;
    }
    ms.data_fd = fd;
    return 0;
  }

  // ------------------------------------------------------------ features
  long device_feature(void* arg) {
    if (arg == nullptr) return fail(EFAULT, "no argument buffer");
    auto* f = static_cast<vfio_device_feature*>(arg);
    const uint32_t feature = f->flags & VFIO_DEVICE_FEATURE_MASK;
    std::ostringstream req;
    req << "VFIO_DEVICE_FEATURE(";
    if (f->flags & VFIO_DEVICE_FEATURE_PROBE) req << "PROBE ";
    if (f->flags & VFIO_DEVICE_FEATURE_GET) req << "GET ";
    if (f->flags & VFIO_DEVICE_FEATURE_SET) req << "SET ";
    req << feature_name(feature) << ")";
    rec.request = req.str();
    if (f->argsz < sizeof(vfio_device_feature))
      return fail(EINVAL, "argsz is smaller than the 8-byte header");
    if (f->flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
                     VFIO_DEVICE_FEATURE_PROBE))
      return fail(EINVAL, "unknown bits in flags");
    const bool probe = f->flags & VFIO_DEVICE_FEATURE_PROBE;
    const bool get = f->flags & VFIO_DEVICE_FEATURE_GET, set = f->flags & VFIO_DEVICE_FEATURE_SET;
    if (get && set && !probe)
      return fail(EINVAL, "GET and SET together are only allowed with PROBE");

    uint32_t ops = 0;
    size_t minsz = 0;
    switch (feature) {
      case VFIO_DEVICE_FEATURE_MIGRATION:
        ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_migration);
        break;
      case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
        ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
        minsz = sizeof(vfio_device_feature_mig_state);
        break;
      case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
        ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_mig_data_size);
        break;
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
        ops = VFIO_DEVICE_FEATURE_SET, minsz = sizeof(vfio_device_feature_dma_logging_control);
        break;
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        ops = VFIO_DEVICE_FEATURE_SET, minsz = 0;
        break;
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        ops = VFIO_DEVICE_FEATURE_GET, minsz = sizeof(vfio_device_feature_dma_logging_report);
        break;
      default:
        // vfio_ioctl_device_feature(): a driver without a device_feature op
        // (an mdev) gets ENOTTY since 16df67f2189a (2025), EINVAL before.
        return fail(opt.kernel == KernelGeneration::kCurrent ? ENOTTY : EINVAL,
                    "feature " + std::to_string(feature) + " is not handled by this device");
    }
    const bool is_mig = feature == VFIO_DEVICE_FEATURE_MIGRATION ||
                        feature == VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE ||
                        feature == VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
    if (is_mig && v1())
      return fail(ENOTTY, "this device has no v2 migration ops (it speaks protocol v1)");
    if (!is_mig && !dev.dma_logging_supported())
      return fail(ENOTTY, "this device has no DMA logging ops");
    // vfio_check_feature()
    if (probe) {
      if ((get && !(ops & VFIO_DEVICE_FEATURE_GET)) || (set && !(ops & VFIO_DEVICE_FEATURE_SET)))
        return fail(EINVAL, "the feature does not support the probed direction");
      note("PROBE: supported, nothing else done");
      return 0;
    }
    if (!get && !set) return fail(EINVAL, "neither GET nor SET requested");
    if ((get && !(ops & VFIO_DEVICE_FEATURE_GET)) || (set && !(ops & VFIO_DEVICE_FEATURE_SET)))
      return fail(EINVAL, std::string("the feature does not support ") + (get ? "GET" : "SET"));
    if (f->argsz - sizeof(vfio_device_feature) < minsz)
      return fail(EINVAL, "argsz leaves " + std::to_string(f->argsz - sizeof(vfio_device_feature)) +
                              " payload bytes; the feature needs " + std::to_string(minsz));
    void* payload = f->data;
    switch (feature) {
      case VFIO_DEVICE_FEATURE_MIGRATION:
        static_cast<vfio_device_feature_migration*>(payload)->flags = flags();
        rec.args = "flags=" + proto().features_name(flags());
        return 0;
      case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE: {
        auto* ms = static_cast<vfio_device_feature_mig_state*>(payload);
        if (get) {
          ms->device_state = static_cast<uint32_t>(state);
          ms->data_fd = -1;
          rec.args = "device_state=" + sname(state);
          return 0;
        }
        return set_state(*ms);
      }
      case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: {
        const uint64_t n = session && session->save && session->saver
                               ? session->saver->stop_copy_bytes()
                               : dev.full_image_bytes();
        static_cast<vfio_device_feature_mig_data_size*>(payload)->stop_copy_length = n;
        rec.args = "stop_copy_length=" + std::to_string(n);
        note("MIG_DATA_SIZE estimates what STOP_COPY would still send if entered now");
        return 0;
      }
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
        return logging_start(*static_cast<vfio_device_feature_dma_logging_control*>(payload));
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        logging = false;
        dev.dma_logging_stop();
        return 0;
      case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        return logging_report(*static_cast<vfio_device_feature_dma_logging_report*>(payload));
    }
    return fail(EINVAL, "unreachable");
  }

  long logging_start(vfio_device_feature_dma_logging_control& c) {
    constexpr uint32_t kMaxRanges =
        4096 / sizeof(vfio_device_feature_dma_logging_range);  // PAGE_SIZE / 16
    rec.args =
        "page_size=" + std::to_string(c.page_size) + " num_ranges=" + std::to_string(c.num_ranges);
    if (c.num_ranges == 0) return fail(EINVAL, "num_ranges is 0");
    if (c.num_ranges > kMaxRanges) return fail(E2BIG, "more than 256 ranges");
    const auto* ranges = reinterpret_cast<const vfio_device_feature_dma_logging_range*>(c.ranges);
    // vfio_ioctl_device_feature_logging_start(): each range in turn, so the
    // first bad one decides the errno. page_size is a hint (no power-of-two
    // check); alignment is the kernel's IS_ALIGNED(x, page_size), a mask test.
    const uint64_t mask = c.page_size - 1;
    std::vector<std::pair<uint64_t, uint64_t>> accepted;  // [first, last]
    for (uint32_t i = 0; i < c.num_ranges; ++i) {
      if (ranges == nullptr) return fail(EFAULT, "ranges points nowhere");
      const auto& r = ranges[i];
      const std::string which = "range " + std::to_string(i);
      if ((r.iova & mask) || (r.length & mask))
        return fail(EINVAL, which + " is not aligned to page_size");
      if (r.iova + r.length < r.iova) return fail(EOVERFLOW, which + " wraps around");
      const uint64_t last = r.iova + r.length - 1;
      for (const auto& [a, b] : accepted)
        if (r.iova <= b && a <= last) return fail(EINVAL, which + " overlaps an earlier range");
      accepted.emplace_back(r.iova, last);
    }
    if (logging) return fail(EINVAL, "logging already started: STOP first (one START until STOP)");
    // [sim] the driver's choice, copied back: the hint rounded down to a power
    // of two (as mlx5 does with ilog2), at least 4 KiB.
    uint64_t chosen = kIommuPage;
    while (chosen * 2 != 0 && chosen * 2 <= c.page_size) chosen *= 2;
    if (chosen != c.page_size)
      note("page_size " + std::to_string(c.page_size) + " is a hint: logging uses " +
           std::to_string(chosen));
    c.page_size = chosen;
    logging = true;
    logging_page_size = c.page_size;
    dev.dma_logging_start(c.page_size);
    note("device DMA writes are now logged at " + std::to_string(c.page_size) +
         "-byte granularity");
    return 0;
  }

  long logging_report(vfio_device_feature_dma_logging_report& r) {
    rec.args = "iova=" + std::to_string(r.iova) + " length=" + std::to_string(r.length) +
               " page_size=" + std::to_string(r.page_size);
    if (r.page_size < 4096 || !pow2(r.page_size))
      return fail(EINVAL, "page_size must be a power of two >= 4096");
    if (r.iova + r.length < r.iova) return fail(EOVERFLOW, "iova + length wraps around");
    if (!logging) return fail(EINVAL, "DMA logging is not started");
    auto* bitmap = reinterpret_cast<uint64_t*>(r.bitmap);
    if (bitmap == nullptr) return fail(EFAULT, "bitmap points nowhere");
    uint64_t bits = 0;
    for (uint64_t addr : dev.dma_logging_report(r.iova, r.length, r.page_size)) {
      if (addr < r.iova || addr >= r.iova + r.length) continue;
      const uint64_t k = (addr - r.iova) / r.page_size;
      bitmap[k / 64] |= uint64_t{1} << (k % 64);  // only sets bits; the user zeroes the bitmap
      ++bits;
    }
    note(std::to_string(bits) +
         " pages written by device DMA since the last report (the log is now clear)");
    return 0;
  }

  // ------------------------------------------------------------ device fd
  long device_ioctl(unsigned long request, void* arg) {
    switch (request) {
      case VFIO_DEVICE_GET_INFO: {
        rec.request = "VFIO_DEVICE_GET_INFO";
        if (!arg) return fail(EFAULT, "no argument buffer");
        auto* info = static_cast<vfio_device_info*>(arg);
        if (info->argsz < offsetof(vfio_device_info, num_irqs) + sizeof(info->num_irqs))
          return fail(EINVAL, "argsz too small");
        info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
        info->num_regions = v1() ? kMigrationRegionIndex + 1 : uint32_t{VFIO_PCI_NUM_REGIONS};
        info->num_irqs = kNumIrqs;
        return 0;
      }
      case VFIO_DEVICE_GET_REGION_INFO:
        rec.request = "VFIO_DEVICE_GET_REGION_INFO";
        return region_info(arg);
      case VFIO_DEVICE_RESET:
        rec.request = "VFIO_DEVICE_RESET";
        dev.reset();
        pci.reset();
        end_session();
        v1_saver.reset();
        v1_resumer.reset();
        v1_phase = V1Phase::kIdle;
        state = MigState::kRunning;
        v1_state = VFIO_DEVICE_STATE_V1_RUNNING;
        note(v1() ? "reset: the device runs again in 001b, the default; any save or resume "
                    "session is dropped"
                  : "reset: the device runs again in its default state; any data fd now fails "
                    "with ENODEV");
        return 0;
      case VFIO_DEVICE_FEATURE:
        return device_feature(arg);
      case VFIO_DEVICE_GET_IRQ_INFO:
      case VFIO_DEVICE_SET_IRQS: {
        const bool get = request == VFIO_DEVICE_GET_IRQ_INFO;
        rec.request = get ? "VFIO_DEVICE_GET_IRQ_INFO" : "VFIO_DEVICE_SET_IRQS";
        if (!arg) return fail(EFAULT, "no argument buffer");
        std::string why;
        long r;
        if (get) {
          auto* i = static_cast<vfio_irq_info*>(arg);
          r = irqs.info(*i, why);
          rec.args = "index=" + std::to_string(i->index) + " count=" + std::to_string(i->count);
        } else {
          auto* i = static_cast<vfio_irq_set*>(arg);
          r = irqs.set(*i, why);
          rec.args = "index=" + std::to_string(i->index) + " flags=" + std::to_string(i->flags) +
                     " count=" + std::to_string(i->count);
        }
        return r < 0 ? fail(static_cast<int>(-r), why) : r;
      }
    }
    rec.request = "ioctl " + std::to_string(request);
    return fail(ENOTTY, "not an ioctl of a VFIO device fd");
  }

  uint64_t v1_region_size() const { return kV1DataOffset + data_section.size(); }

  long region_info(void* arg) {
    if (!arg) return fail(EFAULT, "no argument buffer");
    auto* info = static_cast<vfio_region_info*>(arg);
    if (info->argsz < sizeof(vfio_region_info)) return fail(EINVAL, "argsz is smaller than 32");
    const uint32_t num = v1() ? kMigrationRegionIndex + 1 : uint32_t{VFIO_PCI_NUM_REGIONS};
    rec.args = "index=" + std::to_string(info->index);
    if (info->index >= num) return fail(EINVAL, "no region " + std::to_string(info->index));
    info->offset = uint64_t{info->index} << kRegionShift;
    info->cap_offset = 0;
    if (info->index != kMigrationRegionIndex) {
      // The PCI face: config space and BAR0 (trapped); other BARs, the ROM
      // and VGA do not exist (size 0).
      info->size = info->index == VFIO_PCI_CONFIG_REGION_INDEX ? kPciConfigSize
                   : info->index == VFIO_PCI_BAR0_REGION_INDEX ? pci_bar_size(dev.mmio_size())
                                                               : 0;
      info->flags = info->size ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
      return 0;
    }
    // Migration region: TYPE capability first, then the sparse mmap of the data section.
    const uint32_t caps = sizeof(vfio_region_info_cap_type) +
                          sizeof(vfio_region_info_cap_sparse_mmap) +
                          sizeof(vfio_region_sparse_mmap_area);
    const bool mmap = opt.v1_data_mmap;
    const uint32_t needed =
        sizeof(vfio_region_info) + (mmap ? caps : uint32_t{sizeof(vfio_region_info_cap_type)});
    info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                  (mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0) | VFIO_REGION_INFO_FLAG_CAPS;
    info->size = v1_region_size();
    if (info->argsz < needed) {
      info->argsz = needed;  // too small: succeed, ask for more room
      note("buffer too small for the capability chain: argsz raised to " + std::to_string(needed));
      return 0;
    }
    auto* base = static_cast<uint8_t*>(arg);
    auto* type = reinterpret_cast<vfio_region_info_cap_type*>(base + sizeof(vfio_region_info));
    type->header.id = VFIO_REGION_INFO_CAP_TYPE;
    type->header.version = 1;
    type->header.next = mmap ? sizeof(vfio_region_info) + sizeof(vfio_region_info_cap_type) : 0;
    type->type = VFIO_REGION_TYPE_MIGRATION_DEPRECATED;
    type->subtype = VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED;
    info->cap_offset = sizeof(vfio_region_info);  // a large enough argsz stays as passed
    if (!mmap) return 0;
    auto* sparse = reinterpret_cast<vfio_region_info_cap_sparse_mmap*>(base + type->header.next);
    sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
    sparse->header.version = 1;
    sparse->header.next = 0;
    sparse->nr_areas = 1;
    sparse->reserved = 0;
    sparse->areas[0].offset = kV1DataOffset;
    sparse->areas[0].size = data_section.size();
    return 0;
  }

  // ------------------------------------------------------------ v1 region
  long v1_write_state(uint32_t value) {
    const uint32_t cur = v1_state & VFIO_DEVICE_STATE_MASK;
    const uint32_t target = value & VFIO_DEVICE_STATE_MASK;
    rec.args = "device_state=" + v1::bits(target);
    if (v1::is_error(cur))
      return fail(EINVAL,
                  "the device is in the error state 110b: only VFIO_DEVICE_RESET leaves it");
    if (v1::check_transition(cur, target, opt.v1_strict) != 0) {
      if (!v1::valid(target) || v1::is_error(target))
        return fail(EINVAL,
                    v1::bits(target) + " is " + v1::meaning(target) + " and cannot be entered");
      return fail(EINVAL,
                  v1::bits(cur) + " -> " + v1::bits(target) + " is not allowed in strict mode");
    }
    if (target == cur) {
      note("same state: no side effects");
      return 0;
    }
    if (opt.fail_arc && opt.fail_arc->first == cur && opt.fail_arc->second == target) {
      v1_state = v1::set_error(v1_state);
      v1_saver.reset();
      v1_resumer.reset();
      return fail(
          EIO, "injected fault: the transition failed and the device entered the error state 110b");
    }
    const bool run0 = cur & VFIO_DEVICE_STATE_V1_RUNNING,
               run1 = target & VFIO_DEVICE_STATE_V1_RUNNING;
    const bool sav0 = cur & VFIO_DEVICE_STATE_V1_SAVING,
               sav1 = target & VFIO_DEVICE_STATE_V1_SAVING;
    const bool res0 = cur & VFIO_DEVICE_STATE_V1_RESUMING,
               res1 = target & VFIO_DEVICE_STATE_V1_RESUMING;
    if (run0 && !run1) {
      dev.set_running(false);
      note("_RUNNING cleared: the device stopped before this write returned");
    }
    if (res0 && !res1) {
      models::StreamStatus st = v1_resumer ? v1_resumer->commit() : models::StreamStatus{};
      v1_resumer.reset();
      if (!st.ok()) {
        v1_state = v1::set_error(v1_state);
        return fail(
            EINVAL,
            "_RESUMING cleared: the device loads and validates the image, and it was rejected (" +
                st.message + "); the device is in the error state 110b");
      }
      note("_RESUMING cleared: the written image was applied");
    }
    if (sav0 && !sav1) {
      v1_saver.reset();
      v1_phase = V1Phase::kIdle;
      note("_SAVING cleared: the save session ended; unread data is dropped");
    }
    if (!sav0 && sav1) {
      v1_saver = dev.open_save_stream();
      if (opt.corrupt_save_stream_at) v1_saver->corrupt_at(*opt.corrupt_save_stream_at);
      v1_phase = V1Phase::kIdle;
      note("_SAVING set: the device gathers its state; read pending_bytes to start an iteration");
    }
    if (sav1 && !run1 && v1_saver && !v1_saver->finalized()) {
      v1_saver->finalize();
      note(
          "stop-and-copy: the stream now carries the final device state; iterate until "
          "pending_bytes reads 0");
    }
    if (!res0 && res1) {
      v1_resumer = dev.open_resume_stream();
      v1_phase = V1Phase::kIdle;
      note("_RESUMING set: write each segment at data_offset, then its size to data_size");
    }
    if (!run0 && run1) dev.set_running(true);
    v1_state = target;  // reserved bits 3-31 are stored as 0 [sim]
    return 0;
  }

  // The data fields follow the session, not raw bits: 110b (the error state)
  // has both _SAVING and _RESUMING set and no session at all.
  bool v1_saving() const {
    return !v1::is_error(v1_state) && (v1_state & VFIO_DEVICE_STATE_V1_SAVING) && v1_saver;
  }
  bool v1_resuming() const {
    return (v1_state & VFIO_DEVICE_STATE_MASK) == VFIO_DEVICE_STATE_V1_RESUMING && v1_resumer;
  }

  uint64_t v1_pending() const {
    if (!v1_saver) return 0;
    return v1_saver->finalized() ? v1_saver->stop_copy_bytes() - (v1_saver->at_end() ? 0 : 0)
                                 : v1_saver->initial_bytes() + v1_saver->dirty_bytes();
  }

  long v1_read_field(uint64_t off, void* buf) {
    if (off != kOffState && off != kOffReserved && v1::is_error(v1_state))
      return fail(EINVAL, "the device is in the error state 110b: no data session");
    switch (off) {
      case kOffState: {
        const uint32_t v = v1_state;
        std::memcpy(buf, &v, 4);
        return 4;
      }
      case kOffReserved: {
        const uint32_t z = 0;
        std::memcpy(buf, &z, 4);
        return 4;
      }
      case kOffPending: {
        uint64_t v = 0;
        if (v1_saving()) {
          if (v1_phase == V1Phase::kStaged)
            note("reading pending_bytes acknowledges the previous buffer");
          v = v1_saver->at_end() ? 0 : v1_pending();
          v1_phase = v > 0 ? V1Phase::kStarted : V1Phase::kIdle;
          note(v == 0 ? (v1_saver->finalized()
                             ? "pending_bytes is 0 in stop-and-copy: the stream is complete"
                             : "pending_bytes is 0: nothing to send now")
                      : "reading pending_bytes starts an iteration");
        }
        std::memcpy(buf, &v, 8);
        return 8;
      }
      case kOffDataOffset: {
        if (v1_saving()) {
          if (v1_phase != V1Phase::kStaged) {
            v1_data_size =
                v1_saver->read(std::span<uint8_t>(data_section.data(), data_section.size()));
            v1_phase = V1Phase::kStaged;
            note("reading data_offset stages the next buffer (" + std::to_string(v1_data_size) +
                 " bytes)");
          } else {
            note("data_offset read again: the same buffer stays staged");
          }
        } else if (v1_resuming()) {
          note("in _RESUMING, data_offset is where the next segment must be written");
        } else {
          return fail(EINVAL, "data_offset is only meaningful while _SAVING or _RESUMING");
        }
        const uint64_t v = kV1DataOffset;
        std::memcpy(buf, &v, 8);
        return 8;
      }
      case kOffDataSize: {
        if (v1_saving()) {
          if (v1_phase != V1Phase::kStaged)
            return fail(EINVAL, "read data_offset first: no buffer is staged");
          note("data_size is the size of the staged buffer: copy that many bytes from data_offset");
        } else if (!v1_resuming()) {
          return fail(EINVAL, "data_size is only meaningful while _SAVING or _RESUMING");
        }
        std::memcpy(buf, &v1_data_size, 8);
        return 8;
      }
    }
    return fail(EINVAL, "unreachable");
  }

  long v1_write_field(uint64_t off, const void* buf) {
    switch (off) {
      case kOffState: {
        uint32_t v;
        std::memcpy(&v, buf, 4);
        const long r = v1_write_state(v);
        return r < 0 ? r : 4;
      }
      case kOffReserved:
        note("writes to reserved are ignored");
        return 4;
      case kOffPending:
      case kOffDataOffset:
        return fail(EINVAL, v1_field_name(off) + " is read-only");
      case kOffDataSize: {
        if (!v1_resuming()) return fail(EINVAL, "data_size is written only while _RESUMING");
        uint64_t n;
        std::memcpy(&n, buf, 8);
        rec.args = "data_size=" + std::to_string(n);
        if (n > data_section.size()) return fail(EINVAL, "data_size exceeds the data section");
        const auto s = v1_resumer->write(std::span<const uint8_t>(data_section.data(), n));
        if (!s.ok())
          return fail(stream_errno(s.error), "the device rejected the segment: " + s.message);
        v1_data_size = n;
        note("writing data_size makes the device consume the " + std::to_string(n) +
             " bytes at data_offset");
        return 8;
      }
    }
    return fail(EINVAL, "unreachable");
  }

  long region_access(bool write, void* buf, size_t len, uint64_t offset) {
    const uint64_t index = offset >> kRegionShift,
                   off = offset & ((uint64_t{1} << kRegionShift) - 1);
    rec.request = v1_field_name(off);
    rec.args = "offset=" + std::to_string(off) + " len=" + std::to_string(len);
    if (index == VFIO_PCI_CONFIG_REGION_INDEX || index == VFIO_PCI_BAR0_REGION_INDEX)
      return pci_access(index == VFIO_PCI_CONFIG_REGION_INDEX, write, buf, len, off);
    if (!v1() || index != kMigrationRegionIndex)
      return fail(EINVAL, "no readable region at this offset");
    if (buf == nullptr) return fail(EFAULT, "no buffer");
    if (off >= kV1DataOffset) {
      if (off + len > v1_region_size() || off + len < off)
        return fail(EINVAL, "beyond the data section");
      uint8_t* data = data_section.data() + (off - kV1DataOffset);
      if (write)
        std::memcpy(data, buf, len);
      else
        std::memcpy(buf, data, len);
      return static_cast<long>(len);
    }
    // Header: each field only at its native width and alignment.
    const bool u32_field = (off == kOffState || off == kOffReserved) && len == 4;
    const bool u64_field =
        (off == kOffPending || off == kOffDataOffset || off == kOffDataSize) && len == 8;
    if (!u32_field && !u64_field)
      return fail(EINVAL,
                  "migration-info fields are accessed only at their native width and alignment");
    return write ? v1_write_field(off, buf) : v1_read_field(off, buf);
  }

  // Config space, or BAR0 as 32-bit registers (narrower accesses read or
  // merge into the containing register; unmapped registers read 0).
  long pci_access(bool config, bool write, void* buf, size_t len, uint64_t off) {
    rec.request = config ? "config" : "bar0";
    if (buf == nullptr) return fail(EFAULT, "no buffer");
    if (config) {
      const long r = write ? pci.write(off, buf, len) : pci.read(off, buf, len);
      return r < 0 ? fail(static_cast<int>(-r), "beyond the 256-byte config space") : r;
    }
    const uint64_t size = pci_bar_size(dev.mmio_size());
    if (off >= size || len > size - off) return fail(EINVAL, "beyond BAR0");
    auto* bytes = static_cast<uint8_t*>(buf);
    for (uint64_t a = off; a < off + len;) {
      const uint64_t reg = a & ~uint64_t{3}, n = std::min<uint64_t>(reg + 4, off + len) - a;
      uint32_t v = 0;
      dev.mmio_read(static_cast<uint32_t>(reg), v);
      auto* vb = reinterpret_cast<uint8_t*>(&v) + (a - reg);
      if (write) {
        std::memcpy(vb, bytes + (a - off), n);
        dev.mmio_write(static_cast<uint32_t>(reg), v);
      } else {
        std::memcpy(bytes + (a - off), vb, n);
      }
      a += n;
    }
    return static_cast<long>(len);
  }

  // ------------------------------------------------------------ container
  long container_ioctl(unsigned long request, void* arg) {
    switch (request) {
      case VFIO_GET_API_VERSION:
        rec.request = "VFIO_GET_API_VERSION";
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION: {
        rec.request = "VFIO_CHECK_EXTENSION";
        const auto ext = reinterpret_cast<uintptr_t>(arg);
        return ext == VFIO_TYPE1_IOMMU || ext == VFIO_TYPE1v2_IOMMU ? 1 : 0;
      }
      case VFIO_SET_IOMMU: {
        rec.request = "VFIO_SET_IOMMU";
        const auto type = reinterpret_cast<uintptr_t>(arg);
        if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
          return fail(EINVAL, "unsupported IOMMU type");
        iommu_type = static_cast<uint32_t>(type);
        return 0;
      }
      case VFIO_IOMMU_MAP_DMA: {
        rec.request = "VFIO_IOMMU_MAP_DMA";
        if (!arg) return fail(EFAULT, "no argument buffer");
        auto* m = static_cast<vfio_iommu_type1_dma_map*>(arg);
        if (m->argsz < sizeof(*m)) return fail(EINVAL, "argsz too small");
        if (m->size == 0 || m->iova % kIommuPage || m->size % kIommuPage)
          return fail(EINVAL, "iova and size must be page aligned");
        for (const auto& x : mappings)
          if (m->iova < x.iova + x.size && x.iova < m->iova + m->size)
            return fail(EEXIST, "overlaps an existing mapping");
        mappings.push_back({m->iova, m->size});
        std::sort(mappings.begin(), mappings.end(),
                  [](auto& a, auto& b) { return a.iova < b.iova; });
        return 0;
      }
      case VFIO_IOMMU_UNMAP_DMA:
        rec.request = "VFIO_IOMMU_UNMAP_DMA";
        return unmap_dma(arg);
      case VFIO_IOMMU_GET_INFO:
        rec.request = "VFIO_IOMMU_GET_INFO";
        return iommu_info(arg);
      case VFIO_IOMMU_DIRTY_PAGES:
        return dirty_pages(arg);
    }
    rec.request = "ioctl " + std::to_string(request);
    return fail(ENOTTY, "not an ioctl of a VFIO container");
  }

  // vfio_iommu_type1_get_info(): the MIGRATION and DMA_AVAIL capabilities,
  // packed one after the other. No IOVA_RANGE: a container holding only an
  // mdev (an emulated-IOMMU group) has an empty IOVA list, and
  // vfio_iommu_iova_build_caps() then adds nothing. A large enough argsz is
  // left as passed; a smaller one is raised to the size needed.
  long iommu_info(void* arg) {
    if (!arg) return fail(EFAULT, "no argument buffer");
    auto* info = static_cast<vfio_iommu_type1_info*>(arg);
    constexpr uint32_t kMinsz = offsetof(vfio_iommu_type1_info, iova_pgsizes) + 8;
    constexpr uint32_t kCapsz = offsetof(vfio_iommu_type1_info, cap_offset) + 4;
    if (info->argsz < kMinsz) return fail(EINVAL, "argsz too small");
    info->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
    info->iova_pgsizes = kIommuPage;
    constexpr uint32_t kMigCap = sizeof(vfio_iommu_type1_info_cap_migration);
    constexpr uint32_t kAvailCap = sizeof(vfio_iommu_type1_info_dma_avail);
    constexpr uint32_t kNeeded = sizeof(vfio_iommu_type1_info) + kMigCap + kAvailCap;
    rec.args = "argsz=" + std::to_string(info->argsz);
    if (info->argsz < kNeeded) {
      if (info->argsz >= kCapsz) info->cap_offset = 0;
      info->argsz = kNeeded;
      note("buffer too small for the capabilities: argsz raised to " + std::to_string(kNeeded));
      return 0;
    }
    auto* base = static_cast<uint8_t*>(arg);
    constexpr uint32_t kMigAt = sizeof(vfio_iommu_type1_info), kAvailAt = kMigAt + kMigCap;
    vfio_iommu_type1_info_cap_migration mig{};
    mig.header = {VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, kAvailAt};
    mig.flags = 0;
    mig.pgsize_bitmap = kIommuPage;
    mig.max_dirty_bitmap_size = kMaxDirtyBitmap;
    std::memcpy(base + kMigAt, &mig, kMigCap);
    vfio_iommu_type1_info_dma_avail avail{};
    avail.header = {VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 0};
    avail.avail = dma_avail();
    std::memcpy(base + kAvailAt, &avail, kAvailCap);
    info->cap_offset = kMigAt;
    return 0;
  }

  // The kernel's dma_entry_limit default (U16_MAX) less the mappings made.
  uint32_t dma_avail() const {
    return static_cast<uint32_t>(kDmaEntryLimit -
                                 std::min<uint64_t>(kDmaEntryLimit, mappings.size()));
  }

  // vfio_find_dma(): the mapping that overlaps [iova, iova + size), if any.
  const Mapping* find_mapping(uint64_t iova, uint64_t size) const {
    for (const auto& m : mappings)
      if (iova < m.iova + m.size && iova + size > m.iova) return &m;
    return nullptr;
  }

  // The check GET_BITMAP and a v2 unmap share: the range must not cut a
  // mapping in two. Ends in unmapped holes are fine.
  bool splits_a_mapping(uint64_t iova, uint64_t size) const {
    const Mapping* first = find_mapping(iova, 1);
    if (first && first->iova != iova) return true;
    const Mapping* last = find_mapping(iova + size - 1, 1);
    return last && last->iova + last->size != iova + size;
  }

  // verify_bitmap_size(): the bitmap must hold one bit per page of `size`.
  static bool bitmap_size_ok(uint64_t size, const vfio_bitmap& b) {
    const uint64_t npages = b.pgsize ? size >> __builtin_ctzll(b.pgsize) : 0;
    return npages != 0 && b.size != 0 && b.size <= kMaxDirtyBitmap &&
           b.size >= (npages + 63) / 64 * 8;
  }

  // update_user_bitmap() for one mapping inside [base, ...): its dirty pages
  // are the pages the device has pinned (type1 re-marks them in every
  // report). Returns the pages marked, or -1 when the bitmap cannot be
  // written (EFAULT).
  long mark_pinned(uint64_t* bitmap, uint64_t base, const Mapping& m) {
    if (bitmap == nullptr) return -1;
    long marked = 0;
    for (const auto& r : dev.pinned_guest_pages()) {
      const uint64_t first = r.first_page * opt.guest_page_size,
                     end = (r.first_page + r.count) * opt.guest_page_size;
      for (uint64_t a = std::max(first, m.iova); a < std::min(end, m.iova + m.size);
           a += kIommuPage) {
        const uint64_t k = (a - base) / kIommuPage;
        bitmap[k / 64] |= uint64_t{1} << (k % 64);
        ++marked;
      }
    }
    return marked;
  }

  // vfio_iommu_type1_unmap_dma() and vfio_dma_do_unmap().
  long unmap_dma(void* arg) {
    if (!arg) return fail(EFAULT, "no argument buffer");
    auto* u = static_cast<vfio_iommu_type1_dma_unmap*>(arg);
    if (u->argsz < sizeof(*u)) return fail(EINVAL, "argsz too small");
    constexpr uint32_t kDirty = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
                       kAll = VFIO_DMA_UNMAP_FLAG_ALL, kVaddr = VFIO_DMA_UNMAP_FLAG_VADDR;
    rec.args = "iova=" + std::to_string(u->iova) + " size=" + std::to_string(u->size) +
               " flags=" + std::to_string(u->flags);
    if (u->flags & ~(kDirty | kAll | kVaddr)) return fail(EINVAL, "unknown bits in flags");
    if ((u->flags & kDirty) && (u->flags & (kAll | kVaddr)))
      return fail(EINVAL, "GET_DIRTY_BITMAP cannot be combined with ALL or VADDR");
    vfio_bitmap bitmap{};
    if (u->flags & kDirty) {
      if (u->argsz < sizeof(*u) + sizeof(vfio_bitmap))
        return fail(EINVAL, "GET_DIRTY_BITMAP needs argsz >= 48 (a struct vfio_bitmap follows)");
      std::memcpy(&bitmap, u->data, sizeof bitmap);
      if (!bitmap_size_ok(u->size, bitmap))
        return fail(EINVAL, "bitmap.size must hold one bit per page (and at most 256 MiB)");
    }
    const bool all = u->flags & kAll;
    uint64_t size = u->size;
    if (u->iova % kIommuPage) return fail(EINVAL, "iova is not page aligned");
    if (all) {
      if (u->iova || u->size) return fail(EINVAL, "UNMAP_FLAG_ALL needs iova = size = 0");
      size = UINT64_MAX;
    } else if (size == 0 || size % kIommuPage || u->iova + size - 1 < u->iova) {
      return fail(EINVAL, "size must be page aligned, non-zero and not wrap");
    }
    if ((u->flags & kDirty) && (!dirty_tracking || bitmap.pgsize != kIommuPage))
      return fail(EINVAL, "GET_DIRTY_BITMAP needs dirty tracking started and pgsize 4096");
    if (u->flags & kVaddr)
      return fail(EINVAL, "UNMAP_FLAG_VADDR is refused while an mdev is in the container");
    const bool v2 = iommu_type == VFIO_TYPE1v2_IOMMU;
    if (v2 && !all && splits_a_mapping(u->iova, size))
      return fail(EINVAL, "the range would cut a DMA mapping in two");
    uint64_t unmapped = 0;
    long marked = 0;
    const uint64_t end = all ? UINT64_MAX : u->iova + size - 1;
    for (auto it = mappings.begin(); it != mappings.end();) {
      if (it->iova + it->size - 1 < u->iova) {
        ++it;
        continue;
      }
      if (it->iova > end) break;
      if (!v2 && u->iova > it->iova) break;  // type1 v1: an unmap inside a mapping unmaps nothing
      if (u->flags & kDirty) {
        const long n = mark_pinned(reinterpret_cast<uint64_t*>(bitmap.data), u->iova, *it);
        if (n < 0) return fail(EFAULT, "bitmap.data cannot be written");
        marked += n;
      }
      unmapped += it->size;
      it = mappings.erase(it);
    }
    u->size = unmapped;
    if (unmapped == 0) note("no mapping in the range: nothing unmapped, size = 0");
    if (u->flags & kDirty)
      note(std::to_string(marked) + " pages pinned by the device are reported dirty");
    return 0;
  }

  long dirty_pages(void* arg) {
    rec.request = "VFIO_IOMMU_DIRTY_PAGES";
    if (!arg) return fail(EFAULT, "no argument buffer");
    auto* d = static_cast<vfio_iommu_type1_dirty_bitmap*>(arg);
    if (iommu_type == VFIO_TYPE1_IOMMU)
      return fail(EACCES, "dirty tracking needs a TYPE1v2 container");
    if (d->argsz < sizeof(*d)) return fail(EINVAL, "argsz is smaller than 8");
    const uint32_t all = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
                         VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    if ((d->flags & ~all) || __builtin_popcount(d->flags) != 1)
      return fail(EINVAL, "flags must be exactly one of START, STOP, GET_BITMAP");
    if (d->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
      rec.request += "(START)";
      dirty_tracking = true;
      return 0;
    }
    if (d->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
      rec.request += "(STOP)";
      dirty_tracking = false;
      return 0;
    }
    rec.request += "(GET_BITMAP)";
    if (d->argsz < sizeof(*d) + sizeof(vfio_iommu_type1_dirty_bitmap_get))
      return fail(EINVAL, "argsz leaves less than the 40-byte range description");
    auto* g = reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(d->data);
    rec.args = "iova=" + std::to_string(g->iova) + " size=" + std::to_string(g->size);
    // vfio_iommu_type1_dirty_pages(), in its order.
    if (g->iova + g->size < g->iova) return fail(EINVAL, "iova + size wraps around");
    if (!bitmap_size_ok(g->size, g->bitmap))
      return fail(EINVAL, "bitmap.size must hold one bit per page (and at most 256 MiB)");
    if (g->bitmap.pgsize != kIommuPage)
      return fail(EINVAL, "bitmap.pgsize must be the IOMMU page size (4096)");
    if (g->size == 0 || g->iova % kIommuPage || g->size % kIommuPage)
      return fail(EINVAL, "iova and size must be page aligned and non-zero");
    if (!dirty_tracking) return fail(EINVAL, "dirty tracking is not started");
    // vfio_iova_dirty_bitmap(): only a cut mapping is refused; the bitmap is
    // written once per mapping in the range (so a NULL one faults only then).
    if (splits_a_mapping(g->iova, g->size))
      return fail(EINVAL, "the range would cut a DMA mapping in two");
    uint64_t marked = 0, covered = 0;
    for (const auto& m : mappings) {
      if (m.iova < g->iova || m.iova > g->iova + g->size - 1) continue;
      const long n = mark_pinned(reinterpret_cast<uint64_t*>(g->bitmap.data), g->iova, m);
      if (n < 0) return fail(EFAULT, "bitmap.data cannot be written");
      marked += static_cast<uint64_t>(n);
      ++covered;
    }
    if (covered == 0) note("no DMA mapping in the range: nothing reported");
    note(std::to_string(marked) +
         " pages pinned by the device are reported dirty (type1 reports pinned pages in every "
         "report)");
    return 0;
  }

  // ------------------------------------------------------------ data fds
  long postcopy_ioctl(DataFile& f, unsigned long request, void* arg) {
    const bool req = request == VFIO_MIG_POSTCOPY_REQUEST;
    rec.request = req ? "VFIO_MIG_POSTCOPY_REQUEST" : "VFIO_MIG_POSTCOPY_FAULTS";
    if (!(flags() & VFIO_MIGRATION_POST_COPY))
      return fail(ENOTTY, "post-copy ioctls exist only on devices advertising post_copy");
    if (!arg) return fail(EFAULT, "no argument buffer");
    if (!f.active) return fail(ENODEV, "the session has ended");
    const auto i = sidx(state);
    const DataRule rule = i ? proto().states[*i].data : DataRule::kNone;
    if (req) {
      auto* r = static_cast<vfio_mig_postcopy_request*>(arg);
      if (r->argsz < sizeof(*r)) return fail(EINVAL, "argsz is smaller than 32");
      if (!f.save || rule != DataRule::kServe)
        return fail(EINVAL, "pages are requested from the save fd of a serving source, not in " +
                                sname(state));
      if (r->flags & VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND)
        r->queued =
            f.saver->queue_background(r->count, r->flags & VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST);
      else
        r->queued = f.saver->queue_pages(r->first_page, r->count);
      rec.args = "first_page=" + std::to_string(r->first_page) +
                 " count=" + std::to_string(r->count) + " queued=" + std::to_string(r->queued);
      return 0;
    }
    auto* q = static_cast<vfio_mig_postcopy_faults*>(arg);
    if (q->argsz < sizeof(*q)) return fail(EINVAL, "argsz is smaller than 40");
    if (f.save || rule != DataRule::kResumeRunning)
      return fail(EINVAL, "faults are read from the resume fd of a running destination, not in " +
                              sname(state));
    auto faults = dev.take_faults();
    const size_t n = std::min<size_t>(faults.size(), q->capacity);
    auto* out = reinterpret_cast<uint64_t*>(q->pages);
    if (n > 0 && out == nullptr) return fail(EFAULT, "no pages buffer");
    for (size_t k = 0; k < n; ++k) out[k] = faults[k];
    if (n < faults.size()) note("more faults than capacity: the rest are lost to this call");
    q->count = n;
    q->missing = dev.missing_pages();
    rec.args = "count=" + std::to_string(n) + " missing=" + std::to_string(q->missing);
    return 0;
  }

  long data_ioctl(DataFile& f, unsigned long request, void* arg) {
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
    if (state != MigState::kPreCopy && state != MigState::kPreCopyP2P)
      return fail(EINVAL,
                  "PRECOPY_INFO is valid only in PRE_COPY or PRE_COPY_P2P, not " + sname(state));
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

  long data_read(DataFile& f, void* buf, size_t len) {
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

  long data_write(DataFile& f, const void* buf, size_t len) {
    if (f.save) return fail(EBADF, "a save fd is opened read-only");
    if (!f.active) return fail(ENODEV, "the resume session has ended");
    if (f.latched) return fail(f.latched, "the resume stream already failed");
    if (buf == nullptr && len > 0) return fail(EFAULT, "no buffer");
    const auto st =
        f.resumer->write(std::span<const uint8_t>(static_cast<const uint8_t*>(buf), len));
    if (!st.ok()) {
      f.latched = stream_errno(st.error);
      return fail(f.latched, "the device rejected the stream: " + st.message);
    }
    return static_cast<long>(len);
  }
};

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
  const auto it = m.fds.find(fd);
  if (it == m.fds.end()) return m.finish(m.fail(EBADF, "no such fd"));
  return m.finish(m.data_ioctl(*it->second, request, arg));
}

ssize_t Frontend::pread(int fd, void* buf, size_t len, uint64_t offset) {
  auto& m = *impl_;
  m.begin("pread", fd, "");
  if (m.fds.count(fd)) return m.finish(m.fail(ESPIPE, "data fds are streams: no positioned I/O"));
  if (fd != Impl::kDeviceFd)
    return m.finish(m.fail(fd == Impl::kContainerFd ? EINVAL : EBADF, "not a device fd"));
  return m.finish(m.region_access(false, buf, len, offset));
}

ssize_t Frontend::pwrite(int fd, const void* buf, size_t len, uint64_t offset) {
  auto& m = *impl_;
  m.begin("pwrite", fd, "");
  if (m.fds.count(fd)) return m.finish(m.fail(ESPIPE, "data fds are streams: no positioned I/O"));
  if (fd != Impl::kDeviceFd)
    return m.finish(m.fail(fd == Impl::kContainerFd ? EINVAL : EBADF, "not a device fd"));
  return m.finish(m.region_access(true, const_cast<void*>(buf), len, offset));
}

ssize_t Frontend::read(int fd, void* buf, size_t len) {
  auto& m = *impl_;
  m.begin("read", fd, "data");
  const auto it = m.fds.find(fd);
  if (it == m.fds.end())
    return m.finish(m.fail(fd == Impl::kDeviceFd || fd == Impl::kContainerFd ? EINVAL : EBADF,
                           "not a data fd"));
  return m.finish(m.data_read(*it->second, buf, len));
}

ssize_t Frontend::write(int fd, const void* buf, size_t len) {
  auto& m = *impl_;
  m.begin("write", fd, "data");
  const auto it = m.fds.find(fd);
  if (it == m.fds.end())
    return m.finish(m.fail(fd == Impl::kDeviceFd || fd == Impl::kContainerFd ? EINVAL : EBADF,
                           "not a data fd"));
  return m.finish(m.data_write(*it->second, buf, len));
}

int Frontend::close(int fd) {
  auto& m = *impl_;
  m.begin("close", fd, "fd");
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

void Frontend::set_observer(CallObserver* observer) { impl_->observer = observer; }
std::string Frontend::state_name() const { return impl_->state_str(); }
uint32_t Frontend::state_value() const {
  return impl_->v1() ? impl_->v1_state : static_cast<uint32_t>(impl_->state);
}
const FrontendOptions& Frontend::options() const { return impl_->opt; }
const std::vector<std::pair<std::string, uint64_t>>& Frontend::call_counts() const {
  return impl_->call_counts;
}
const std::vector<std::pair<std::string, uint64_t>>& Frontend::errno_counts() const {
  return impl_->errno_counts;
}

}  // namespace mdevsim::vfio
