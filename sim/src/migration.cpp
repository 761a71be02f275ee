// The migration driver: a QEMU-like VMM that moves a running VM with the
// GPU-like device from a source host to a destination host. It talks to the
// devices only through the VFIO ABI (vfio::Frontend), moves guest RAM pages
// and device bytes over a simulated link, decides switchover with QEMU's rule
// (remaining bytes / measured bandwidth < downtime limit), and verifies that
// nothing was lost.
#include "mdevsim/sim/migration.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>

#include <systemc>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/sim/host.h"
#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/uapi.h"
#include "migration_faults.h"

namespace mdevsim::sim {

namespace {

using sc_core::sc_time;
using vfio::MigState;

constexpr uint64_t kZeroPageBytes = 8;  // a zero page goes as a header only (QEMU's zero-page flag)
constexpr uint64_t kPageHeaderBytes = 8;  // per-page header on the wire
constexpr uint64_t kReadChunk = 1 << 20;  // QEMU reads device data 1 MiB at a time
constexpr uint64_t kV1Region = uint64_t{VFIO_PCI_NUM_REGIONS} << 40;
constexpr double kPostcopySlice = 0.00025;  // background push slices: faults wait at most this

using detail::Link;
using detail::now;
using detail::wait_s;
constexpr double kSlice = Link::kSlice;

template <typename Payload>
using Feature = vfio::FeatureBuf<Payload>;

class MigrationDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(MigrationDriver);
  MigrationDriver(sc_core::sc_module_name n, const Scenario& s, const RunOptions& o, Host& src,
                  Host& dst, Host* ref)
      : sc_core::sc_module(n),
        s_(s),
        opt_(o),
        src_(src),
        dst_(dst),
        ref_(ref),
        link_(s.link, s.faults, s.migration.link_timeout_s, result.faults),
        v1_(s.device.protocol == "v1"),
        page_(s.vm.page_size),
        dma_pending_(src.ram.store.page_count()) {
    link_.recorder = o.recorder;
    for (const auto& f : s.faults) {
      FaultResult r;
      r.kind = fault_kind_name(f.kind);
      r.at_s = f.at_s;
      r.duration_s = f.duration_s;
      if (f.kind == FaultKind::kCorrupt)
        r.target = f.target == CorruptTarget::kRam ? "ram" : "device";
      result.faults.push_back(r);
    }
    SC_THREAD(run);
    SC_THREAD(inject_device_errors);
  }

  Result result;

 private:
  // ------------------------------------------------------------ ABI helpers
  long set_state(Host& h, MigState st, int* fd = nullptr) {
    Feature<vfio_device_feature_mig_state> f(VFIO_DEVICE_FEATURE_SET |
                                             VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
    f.payload.device_state = static_cast<uint32_t>(st);
    const long r = h.frontend.ioctl(h.frontend.device_fd(), VFIO_DEVICE_FEATURE, f.raw);
    if (fd) *fd = f.payload.data_fd;
    return r;
  }
  long v1_write_state(Host& h, uint32_t v) {
    return h.frontend.pwrite(h.frontend.device_fd(), &v, 4, kV1Region);
  }
  uint64_t v1_rd64(Host& h, uint64_t off, long* err = nullptr) {
    uint64_t v = 0;
    const long r = h.frontend.pread(h.frontend.device_fd(), &v, 8, kV1Region + off);
    if (err) *err = r < 0 ? r : 0;
    return r < 0 ? 0 : v;
  }
  uint64_t data_size() {
    if (v1_) return v1_rd64(src_, 8);  // QEMU v1: pending_bytes is the device's contribution
    Feature<vfio_device_feature_mig_data_size> f(VFIO_DEVICE_FEATURE_GET |
                                                 VFIO_DEVICE_FEATURE_MIG_DATA_SIZE);
    // A device without the size ioctl makes QEMU assume 100 GiB.
    if (src_.frontend.ioctl(src_.frontend.device_fd(), VFIO_DEVICE_FEATURE, f.raw) < 0)
      return uint64_t{100} << 30;
    return f.payload.stop_copy_length;
  }
  bool precopy_info(uint64_t& initial, uint64_t& dirty) {
    vfio_precopy_info info{};
    info.argsz = sizeof(info);
    if (src_.frontend.ioctl(save_fd_, VFIO_MIG_GET_PRECOPY_INFO, &info) < 0) return false;
    initial = info.initial_bytes;
    dirty = info.dirty_bytes;
    return true;
  }

  // ------------------------------------------------------------ dirty RAM
  void start_dma_tracking() {
    if (!s_.vm.dma_dirty_tracking) return;
    if (!v1_) {
      vfio_device_feature_dma_logging_range range{0, s_.vm.ram_bytes};
      Feature<vfio_device_feature_dma_logging_control> f(VFIO_DEVICE_FEATURE_SET |
                                                         VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
      f.payload.page_size = page_;
      f.payload.num_ranges = 1;
      f.payload.ranges = reinterpret_cast<uint64_t>(&range);
      if (src_.frontend.ioctl(src_.frontend.device_fd(), VFIO_DEVICE_FEATURE, f.raw) == 0) {
        dma_logging_ = true;
        return;
      }
    }
    alignas(8) uint8_t raw[8] = {};
    auto* d = reinterpret_cast<vfio_iommu_type1_dirty_bitmap*>(raw);
    d->argsz = 8;
    d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
    type1_ = src_.frontend.ioctl(src_.frontend.container_fd(), VFIO_IOMMU_DIRTY_PAGES, raw) == 0;
  }

  // Pulls the pages device DMA wrote (or pinned) into dma_pending_.
  void sync_dma_dirty() {
    if (!dma_logging_ && !type1_) return;
    const uint64_t pages = src_.ram.store.page_count();
    // One buffer for every report: the user zeroes it, the kernel only sets bits.
    auto& bitmap = report_bitmap_;
    bitmap.assign((pages * (page_ / 4096) + 63) / 64 + 1, 0);
    if (dma_logging_) {
      Feature<vfio_device_feature_dma_logging_report> f(VFIO_DEVICE_FEATURE_GET |
                                                        VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT);
      f.payload.iova = 0;
      f.payload.length = s_.vm.ram_bytes;
      f.payload.page_size = page_;
      f.payload.bitmap = reinterpret_cast<uint64_t>(bitmap.data());
      if (src_.frontend.ioctl(src_.frontend.device_fd(), VFIO_DEVICE_FEATURE, f.raw) < 0) return;
      mark_from_bitmap(bitmap, 1, pages);
      return;
    }
    alignas(8) uint8_t raw[48] = {};
    auto* d = reinterpret_cast<vfio_iommu_type1_dirty_bitmap*>(raw);
    auto* g = reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(raw + 8);
    d->argsz = 48;
    d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    g->iova = 0;
    g->size = s_.vm.ram_bytes;
    g->bitmap.pgsize = 4096;
    g->bitmap.size = bitmap.size() * 8;
    g->bitmap.data = reinterpret_cast<__u64*>(bitmap.data());
    if (src_.frontend.ioctl(src_.frontend.container_fd(), VFIO_IOMMU_DIRTY_PAGES, raw) < 0) return;
    mark_from_bitmap(bitmap, page_ / 4096, pages);
  }

  // Bit k of a VFIO bitmap is page k / per (word by word: most words are 0).
  void mark_from_bitmap(const std::vector<uint64_t>& bitmap, uint64_t per, uint64_t pages) {
    for (uint64_t w = 0; w < bitmap.size(); ++w) {
      for (uint64_t bits = bitmap[w]; bits != 0; bits &= bits - 1) {
        const uint64_t page = (w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits))) / per;
        if (page < pages) dma_pending_.set(page);
      }
    }
  }

  // The RAM pages to send now: dirty-logged vCPU writes plus DMA-dirty pages.
  std::vector<uint64_t> collect_ram_dirty() {
    sync_dma_dirty();
    auto& dirty = src_.ram.store.dirty();
    dma_pending_.for_each_set([&](uint64_t p) { dirty.set(p); });
    dma_pending_.clear_all();
    return dirty.collect_and_clear();
  }

  uint64_t wire_bytes(uint64_t page) const {
    return src_.ram.store.token(page) == 0 ? kZeroPageBytes : page_ + kPageHeaderBytes;
  }

  // Sends RAM pages; the content captured when a slice leaves arrives after
  // it. Zero pages go as a header only and need no copy: the destination
  // starts zeroed and a written page never returns to zero.
  bool send_ram(const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes) {
    const auto& store = src_.ram.store;
    const auto span = RunRecorder::link_scope(opt_.recorder, RunRecorder::kRamPages);
    size_t i = 0;
    while (i < pages.size()) {
      const double budget = link_.bandwidth(now(), limited) * kSlice;
      const size_t slice_begin = i;
      slice_.clear();
      uint64_t n = 0;
      while (i < pages.size() && (n < budget || (slice_.empty() && n == 0))) {
        const uint64_t tok = store.token(pages[i]);
        if (tok == 0) {
          n += kZeroPageBytes;
        } else {
          n += page_ + kPageHeaderBytes;
          slice_.emplace_back(pages[i], tok);
        }
        ++i;
      }
      n += kSliceChecksumBytes;
      if (!link_.transfer(n, limited)) {
        if (!link_.timed_out()) return fail_reason(link_.failure());
        // Cut off by the deadline: what did not arrive is still to send.
        for (size_t k = slice_begin; k < pages.size(); ++k) src_.ram.store.dirty().set(pages[k]);
        return false;
      }
      // The destination checks the slice against the checksum sent with it
      // before placing any page of it.
      const uint64_t sent_sum = detail::slice_checksum(slice_);
      if (!slice_.empty()) {
        if (const auto f = take_corruption(CorruptTarget::kRam)) {
          auto& [page, token] = slice_[slice_.size() / 2];
          token ^= uint64_t{1} << 17;  // one bit flipped on the wire
          result.faults[*f].effect = "flipped a bit of guest RAM page " + std::to_string(page) +
                                     " on the wire; the destination's slice checksum caught it";
        }
        if (detail::slice_checksum(slice_) != sent_sum) {
          fail_outcome_ = "failed";
          return fail_reason("guest RAM corrupted in transit: a slice of " +
                             std::to_string(slice_.size()) + " pages (" +
                             std::to_string(slice_.front().first) + ".." +
                             std::to_string(slice_.back().first) +
                             ") did not match its checksum; the destination applied none of it");
        }
      }
      for (const auto& [p, t] : slice_) dst_.ram.store.set_token(p, t);
      bytes += n;
    }
    return true;
  }

  // Moves up to `limit` device bytes (v2 data fd or the v1 region). Returns
  // false on a link or ABI failure (reason set).
  bool send_device(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) {
    const auto span = RunRecorder::link_scope(opt_.recorder, RunRecorder::kDeviceData);
    if (v1_) return send_device_v1(limit, limited, until_end, bytes);
    auto& buf = exact_buf_;
    while (until_end || bytes < limit) {
      const uint64_t want = std::min<uint64_t>(
          std::max<uint64_t>(kReadChunk,
                             static_cast<uint64_t>(link_.bandwidth(now(), limited) * kSlice)),
          until_end ? UINT64_MAX : limit - bytes);
      long n;
      const auto corrupt = corruption_due(CorruptTarget::kDevice);
      if (opt_.exact || corrupt) {
        buf.resize(want);
        n = src_.frontend.read(save_fd_, buf.data(), want);
        if (n > 0) {
          if (corrupt) corrupt_device_bytes(buf.data(), static_cast<uint64_t>(n));
          const long w = dst_.frontend.write(resume_fd_, buf.data(), static_cast<size_t>(n));
          if (w != n) return fail_reason(refused_stream(w));
        }
      } else {
        n = src_.frontend.splice_to(save_fd_, dst_.frontend, resume_fd_, want);
        if (n < 0 && n != -ENOMSG) return fail_reason(refused_stream(n));
      }
      if (n == -ENOMSG || n == 0) return true;  // nothing more now / end of stream
      if (n < 0)
        return fail_reason("reading the device state failed (" +
                           vfio::errno_name(static_cast<int>(-n)) + ")");
      if (!link_.transfer(static_cast<uint64_t>(n), limited)) {
        // At the deadline: the chunk left the source and is already written
        // at the destination (the stream must stay whole); count it.
        if (!link_.timed_out()) return fail_reason(link_.failure());
        bytes += static_cast<uint64_t>(n);
        return false;
      }
      bytes += static_cast<uint64_t>(n);
    }
    return true;
  }

  bool send_device_v1(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) {
    auto& buf = exact_buf_;
    while (until_end || bytes < limit) {
      long err = 0;
      const uint64_t pending = v1_rd64(src_, 8, &err);
      if (err) return fail_reason("reading pending_bytes failed");
      if (pending == 0) return true;
      const uint64_t off = v1_rd64(src_, 16, &err);
      const uint64_t size = v1_rd64(src_, 24, &err);
      if (err) return fail_reason("the v1 iteration failed");
      if (size == 0) return true;
      if (buf.size() < size) buf.resize(size);
      if (src_.frontend.pread(src_.frontend.device_fd(), buf.data(), size, kV1Region + off) !=
          static_cast<long>(size))
        return fail_reason("reading the v1 data section failed");
      const bool arrived = link_.transfer(size, limited);
      if (!arrived && !link_.timed_out()) return fail_reason(link_.failure());
      if (corruption_due(CorruptTarget::kDevice)) corrupt_device_bytes(buf.data(), size);
      // At the deadline the segment is still delivered: it left the source's
      // data section and the stream must stay whole.
      const uint64_t doff = v1_rd64(dst_, 16);
      dst_.frontend.pwrite(dst_.frontend.device_fd(), buf.data(), size, kV1Region + doff);
      const long w = dst_.frontend.pwrite(dst_.frontend.device_fd(), &size, 8, kV1Region + 24);
      if (w < 0) return fail_reason(refused_stream(w));
      bytes += size;
      if (!arrived) return false;
    }
    return true;
  }

  // The read()/write() buffer of device data, kept between calls: post-copy
  // sends device data thousands of times, and a fresh buffer of one link slice
  // (up to hundreds of MiB, zero-filled) per call made exact runs take minutes.
  std::vector<uint8_t> exact_buf_;
  std::vector<size_t> device_error_order_;  // device_error faults by time

  bool fail_reason(std::string why) {
    if (reason_.empty()) reason_ = std::move(why);
    return false;
  }

  // ------------------------------------------------------------ faults
  static constexpr uint64_t kSliceChecksumBytes = detail::kSliceChecksumBytes;
  // The first unused corrupt fault on `target` whose time has come.
  std::optional<size_t> corruption_due(CorruptTarget target) const {
    if (switched_) return std::nullopt;  // injected into pre-copy and stop-copy bytes only
    for (size_t i = 0; i < s_.faults.size(); ++i) {
      const auto& f = s_.faults[i];
      if (f.kind == FaultKind::kCorrupt && f.target == target && f.at_s <= now() &&
          !result.faults[i].applied)
        return i;
    }
    return std::nullopt;
  }
  std::optional<size_t> take_corruption(CorruptTarget target) {
    const auto i = corruption_due(target);
    if (i) result.faults[*i].applied = true;
    return i;
  }
  // Flips one byte in the middle of device bytes on the wire.
  void corrupt_device_bytes(uint8_t* data, uint64_t n) {
    const auto i = take_corruption(CorruptTarget::kDevice);
    if (!i || n == 0) return;
    data[n / 2] ^= 0x10;
    device_corrupted_ = true;
    result.faults[*i].effect = "flipped stream byte " + std::to_string(n / 2) + " of a " +
                               std::to_string(n) + "-byte device data chunk on the wire";
  }
  std::string refused_stream(long err) {
    const std::string e = vfio::errno_name(static_cast<int>(-err));
    if (!device_corrupted_) return "the destination device refused the stream (" + e + ")";
    fail_outcome_ = "failed";
    return "device data corrupted in transit: the destination's stream check rejected it (" + e +
           "); nothing of it was applied";
  }

  // device_error: at its time, the source device fails, and the next arc it
  // is asked to take on the way to the switch fails with EIO (the frontend's
  // injected arc failure), leaving it in ERROR. Pre-copy migrations only.
  // (The list is a member: this thread may still be waiting when the run
  // ends, and SystemC never unwinds a waiting thread's stack.)
  void inject_device_errors() {
    auto& order = device_error_order_;
    for (size_t i = 0; i < s_.faults.size(); ++i)
      if (s_.faults[i].kind == FaultKind::kDeviceError) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return s_.faults[a].at_s < s_.faults[b].at_s; });
    for (size_t i : order) {
      wait_s(s_.faults[i].at_s - now());
      auto& rec = result.faults[i];
      if (s_.migration.mode != MigrationMode::kPrecopy) {
        rec.effect = "device_error is modelled for pre-copy migrations only";
        continue;
      }
      if (ended_) continue;  // accounted at the end
      if (switching_) {
        rec.effect = "came after the source had stopped for the switch";
        continue;
      }
      const auto arc = next_switch_arc();
      // The frontend reads its fault options on every arc (FrontendOptions::fail_arc).
      const_cast<vfio::FrontendOptions&>(src_.frontend.options()).fail_arc = arc;
      rec.applied = true;
      rec.effect = v1_ ? "the source device fails its next state change (" +
                             std::to_string(arc.first) + " -> " + std::to_string(arc.second) + ")"
                       : std::string("the source device fails its next arc (") +
                             vfio::state_name(static_cast<MigState>(arc.first)) + " -> " +
                             vfio::state_name(static_cast<MigState>(arc.second)) + ")";
      return;  // a failed device fails once
    }
  }
  std::pair<uint32_t, uint32_t> next_switch_arc() const {
    return detail::next_switch_arc(v1_, src_.frontend.state_value(), s_.device.features);
  }
  void account_faults(double start, double end) {
    detail::account_faults(s_.faults, result.faults, link_, start, end,
                           switched_ ? switched_at_ : std::numeric_limits<double>::infinity(),
                           device_failed_);
  }

  // ------------------------------------------------------------ phases
  bool setup() {
    const auto span = RunRecorder::setup_scope(opt_.recorder);
    // The first pass sends every page. Pages never written go as zero-page
    // headers, counted in bulk; the rest are marked dirty.
    auto& ram = src_.ram.store;
    ram.dirty().clear_all();
    ram.for_each_touched([&](uint64_t p, uint64_t) { ram.dirty().set(p); });
    initial_zero_pages_ = ram.page_count() - ram.touched_pages();
    ram.start_tracking();
    start_dma_tracking();
    if (v1_) {
      if (v1_write_state(src_, 3) < 0)
        return fail_reason("the source device refused pre-copy (011b)");
      if (v1_write_state(dst_, 4) < 0)
        return fail_reason("the destination device refused resuming (100b)");
      precopy_ = true;
      return true;
    }
    Feature<vfio_device_feature_migration> mig(VFIO_DEVICE_FEATURE_GET |
                                               VFIO_DEVICE_FEATURE_MIGRATION);
    if (src_.frontend.ioctl(src_.frontend.device_fd(), VFIO_DEVICE_FEATURE, mig.raw) < 0 ||
        !(mig.payload.flags & VFIO_MIGRATION_STOP_COPY))
      return fail_reason("the device does not support migration (VFIO_DEVICE_FEATURE_MIGRATION)");
    flags_ = mig.payload.flags;
    if (flags_ & VFIO_MIGRATION_PRE_COPY) {
      if (set_state(src_, MigState::kPreCopy, &save_fd_) < 0)
        return fail_reason("the source device refused PRE_COPY");
      precopy_ = true;
    }
    if (set_state(dst_, MigState::kResuming, &resume_fd_) < 0)
      return fail_reason("the destination device refused RESUMING");
    return true;
  }

  // One pre-copy iteration. Returns false when the migration must stop, or
  // when the timeout cut it short (link_.timed_out(); `it` then holds what
  // was sent).
  bool iterate(IterationResult& it) {
    const auto span = RunRecorder::iteration_scope(opt_.recorder, it.index);
    it.start_s = now();
    const auto pages = collect_ram_dirty();
    it.ram_dirty_pages = pages.size();
    uint64_t device_avail = 0;
    if (precopy_ && !v1_) {
      uint64_t init = 0, dirty = 0;
      precopy_info(init, dirty);
      device_avail = init + dirty;
      it.device_dirty_bytes = dirty;
    } else if (v1_) {
      device_avail = v1_pending_hint_;
    }
    link_.latency();
    if (initial_zero_pages_ > 0) {
      const uint64_t zero_bytes = initial_zero_pages_ * kZeroPageBytes;
      initial_zero_pages_ = 0;
      const auto zero_span = RunRecorder::link_scope(opt_.recorder, RunRecorder::kRamPages);
      // Cut off by the deadline: the destination starts zeroed, so the zero
      // pages not yet announced need nothing more.
      if (!link_.transfer(zero_bytes, true) && !link_.timed_out())
        return fail_reason(link_.failure());
      it.ram_bytes += link_.moved();
    }
    const bool sent = !link_.timed_out() && send_ram(pages, true, it.ram_bytes) &&
                      (!precopy_ || send_device(device_avail, true, false, it.device_bytes));
    if (!sent && !link_.timed_out()) return false;  // reason set where it failed
    it.duration_s = now() - it.start_s;
    it.bandwidth = it.duration_s > 0
                       ? static_cast<double>(it.ram_bytes + it.device_bytes) / it.duration_s
                       : link_.bandwidth(now(), true);
    return sent;
  }

  // Stops the source device for the switch: into its serving state
  // (post-copy of device pages) or STOP_COPY, through the P2P states where
  // advertised (the kernel walks them). A device without PRE_COPY gets its
  // save fd from STOP -> STOP_COPY.
  bool stop_source_device(bool serve) {
    long r;
    if (serve) {
      int fd = -1;
      r = set_state(src_, *state_with(vfio::DataRule::kServe), &fd);
      if (fd >= 0) save_fd_ = fd;
    } else if (v1_) {
      r = v1_write_state(src_, 2);
    } else if (precopy_) {
      r = set_state(src_, MigState::kStopCopy);
    } else {
      r = set_state(src_, MigState::kStop);
      if (r == 0) r = set_state(src_, MigState::kStopCopy, &save_fd_);
    }
    if (r < 0) {
      device_failed_ = true;
      return fail_reason("the source device failed to stop (" +
                         vfio::errno_name(static_cast<int>(-r)) + ")");
    }
    return true;
  }

  bool switchover(bool forced) {
    switching_ = true;
    const double t_stop = now();
    src_.set_vm_running(false);
    if (opt_.recorder) opt_.recorder->vm_stopped(t_stop);
    StopCopyResult sc;
    long r;
    if (!stop_source_device(false)) return false;
    sc.device_stop_s = now() - t_stop;
    const double t_xfer = now();
    link_.latency();
    const auto pages = collect_ram_dirty();
    if (!send_ram(pages, false, sc.ram_bytes)) return false;
    if (!send_device(0, false, true, sc.device_bytes)) return false;
    sc.transfer_s = now() - t_xfer;
    // The destination applies the state, then runs.
    const double t_resume = now();
    wait_s(static_cast<double>(sc.device_bytes) / s_.device.resume_bandwidth);
    if (link_.crashed()) return fail_reason(link_.failure());
    r = v1_ ? v1_write_state(dst_, 1) : set_state(dst_, MigState::kRunning);
    if (r < 0)
      return fail_reason(device_corrupted_ ? refused_stream(r)
                                           : "the destination device rejected the device state (" +
                                                 vfio::errno_name(static_cast<int>(-r)) + ")");
    switched_ = true;
    switched_at_ = now();
    sc.resume_s = now() - t_resume;
    // The guest's CPU state moves with the VM: the guest driver and vCPUs
    // carry on from where the source stopped.
    dst_.driver.load_state(src_.driver.state());
    dst_.vcpus.load_state(src_.vcpus.state());
    // QEMU stops throttling when the migration completes (both sides, so the
    // reference run continues unthrottled too).
    dst_.vcpus.set_throttle(0);
    src_.vcpus.set_throttle(0);
    dst_.set_vm_running(true);
    result.downtime_s = now() - t_stop;
    if (opt_.recorder) opt_.recorder->switchover(t_stop, t_resume, result.downtime_s);
    result.stop_copy = sc;
    result.ram_bytes += sc.ram_bytes;
    result.device_bytes += sc.device_bytes;
    result.converged = !forced;
    result.switchover = forced ? "forced" : "converged";
    // Source cleanup after downtime (QEMU defers STOP_COPY -> STOP).
    if (v1_)
      v1_write_state(src_, 0);
    else
      set_state(src_, MigState::kStop);
    return true;
  }

  // ------------------------------------------------------------ post-copy
  const vfio::ProtocolSpec& proto() const {
    return s_.device.protocol_def ? *s_.device.protocol_def : vfio::builtin_protocol_v2();
  }
  MigState proto_state(const char* attrs_or_name) const {
    const auto i = proto().find(attrs_or_name);
    return static_cast<MigState>(proto().states[*i].value);
  }
  // The states a proposal adds: the serving source and the running destination.
  std::optional<MigState> state_with(vfio::DataRule rule) const {
    for (const auto& st : proto().states)
      if (st.data == rule) return static_cast<MigState>(st.value);
    return std::nullopt;
  }

  // Clone of the source at its stop: the reference that never migrates
  // (simulator bookkeeping, not the VMM: no ABI involved).
  void clone_reference() {
    if (!ref_) return;
    ref_->ram.store.clear();
    src_.ram.store.for_each_touched(
        [&](uint64_t p, uint64_t t) { ref_->ram.store.set_token(p, t); });
    auto& rv = ref_->device.vram.store();
    rv.clear();
    src_.device.vram.store().for_each_touched([&](uint64_t p, uint64_t t) { rv.set_token(p, t); });
    ref_->device.apply_state(src_.device.capture_state());
    ref_->driver.load_state(src_.driver.state());
    ref_->vcpus.load_state(src_.vcpus.state());
  }

  // ------------------------------------------------------------ verification
  // Pages whose content differs between two stores (`skip`: pages not
  // compared, still missing at the destination); the lowest one and the
  // first few in walking order.
  struct PageDiff {
    uint64_t count = 0;
    std::optional<uint64_t> lowest;
    std::vector<uint64_t> listed;
  };
  template <typename Skip>
  static PageDiff differing_pages(const models::PageStore& a, const models::PageStore& b,
                                  Skip skip) {
    PageDiff d;
    auto check = [&](uint64_t p) {
      if (skip(p) || a.token(p) == b.token(p)) return;
      if (d.listed.size() < 8) d.listed.push_back(p);
      if (!d.lowest || p < *d.lowest) d.lowest = p;
      ++d.count;
    };
    a.for_each_touched([&](uint64_t p, uint64_t) { check(p); });
    b.for_each_touched([&](uint64_t p, uint64_t) {
      if (a.token(p) == 0) check(p);
    });
    return d;
  }
  static PageDiff vram_pages(const models::DeviceDiff& d) {
    return {d.vram_pages, d.first_vram_page, {}};
  }

  // Names the earliest check that failed and its first difference: a device
  // field (state order), else the lowest VRAM page, else the lowest RAM page.
  void note_check(const char* check, const models::DeviceDiff& device, const PageDiff& vram,
                  const PageDiff& ram) {
    auto& v = result.verification;
    const uint64_t count = device.fields + vram.count + ram.count;
    if (count == 0 || !v.failed_check.empty()) return;
    VerificationDifference f;
    if (const auto& x = device.first_field) {
      f = {x->kind, x->field, std::nullopt, x->a, x->b};
    } else if (vram.lowest) {
      const uint64_t p = *vram.lowest;
      f = {"vram_page", "", p, std::nullopt, std::nullopt};
    } else {
      const uint64_t p = *ram.lowest;
      f = {"ram_page", "", p, std::nullopt, std::nullopt};
    }
    v.failed_check = check;
    v.first_difference = f;
    v.differences_in_check = count;
  }
  void note_failure(const char* check, VerificationDifference f) {
    auto& v = result.verification;
    if (!v.failed_check.empty()) return;
    v.failed_check = check;
    v.first_difference = std::move(f);
    v.differences_in_check = 1;
  }

  // Bit-exact check at the switch: everything the destination has equals the
  // source's; pages it lacks are listed as missing (fetched and checked later).
  void verify_switch() {
    auto& v = result.verification;
    v.checked = true;
    const auto diff = models::compare_devices(src_.device, dst_.device);
    v.device_fields_mismatched = diff.fields;
    for (const auto& d : diff.differences)
      if (d.rfind("vram", 0) != 0) v.differences.push_back("at the switch: " + d);
    const auto vram = differing_pages(src_.device.vram.store(), dst_.device.vram.store(),
                                      [&](uint64_t p) { return dst_.device.vram.missing(p); });
    const auto ram = differing_pages(src_.ram.store, dst_.ram.store,
                                     [&](uint64_t p) { return dst_.ram.missing.test(p); });
    v.vram_pages_mismatched += vram.count;
    v.ram_pages_mismatched += ram.count;
    for (uint64_t p : vram.listed)
      v.differences.push_back("at the switch: vram page " + std::to_string(p));
    for (uint64_t p : ram.listed)
      v.differences.push_back("at the switch: guest RAM page " + std::to_string(p));
    note_check("switch", diff, vram, ram);
  }

  bool request_device_pages(uint64_t first, uint64_t count, uint32_t flags, uint64_t& queued) {
    vfio_mig_postcopy_request r{};
    r.argsz = sizeof(r);
    r.flags = flags;
    r.first_page = first;
    r.count = count;
    const long rc = src_.frontend.ioctl(save_fd_, VFIO_MIG_POSTCOPY_REQUEST, &r);
    queued = r.queued;
    return rc == 0;
  }

  std::vector<uint64_t> read_device_faults() {
    std::vector<uint64_t> pages(4096);
    vfio_mig_postcopy_faults q{};
    q.argsz = sizeof(q);
    q.capacity = pages.size();
    q.pages = reinterpret_cast<uint64_t>(pages.data());
    if (dst_.frontend.ioctl(resume_fd_, VFIO_MIG_POSTCOPY_FAULTS, &q) < 0) return {};
    pages.resize(q.count);
    return pages;
  }

  // Sends RAM pages to the destination, placing each that is still missing.
  bool push_ram(const std::vector<uint64_t>& pages, uint64_t& bytes) {
    const uint64_t n = pages.size() * (page_ + kPageHeaderBytes);
    if (n == 0) return true;
    if (!link_.transfer(n, false)) return false;
    for (uint64_t p : pages)
      if (dst_.ram.place(p, src_.ram.store.token(p))) ++pc_fetched_ram_;
    bytes += n;
    return true;
  }

  // Moves whatever device pages are queued at the source (through the ABI).
  bool move_device_pages(uint64_t& bytes) {
    const uint64_t before = bytes;
    if (!send_device(0, false, true, bytes)) return false;
    pc_device_bytes_ += bytes - before;
    return true;
  }

  // Switch for post-copy (and hybrid after its pre-copy rounds). The VM stops;
  // the device either enters its serving state (device pages post-copied) or
  // is stopped and copied whole (RAM-only post-copy); RAM pages dirtied since
  // they were sent become missing at the destination; the destination runs.
  bool switchover_postcopy() {
    const auto& rules = *proto().postcopy;
    const bool device_pages = rules.device_pages;
    switching_ = true;
    const double t_stop = now();
    src_.set_vm_running(false);
    if (opt_.recorder) opt_.recorder->vm_stopped(t_stop);
    StopCopyResult sc;
    long r;
    if (!stop_source_device(device_pages)) return false;
    sc.device_stop_s = now() - t_stop;
    const double t_xfer = now();
    link_.latency();
    // RAM: the pages dirty since they were sent (all touched ones when nothing
    // was pre-copied) stay at the source; the destination gets their list.
    auto ram_missing = collect_ram_dirty();
    if (initial_zero_pages_ > 0) initial_zero_pages_ = 0;  // zero pages need no fetch
    std::vector<uint64_t> nonzero;
    for (uint64_t p : ram_missing)
      if (src_.ram.store.token(p) != 0) nonzero.push_back(p);
    ram_missing.swap(nonzero);
    const uint64_t discard_bytes =
        (src_.ram.store.page_count() + 7) / 8;  // bitmap of missing pages
    if (!link_.transfer(discard_bytes, false)) return fail_reason(link_.failure());
    sc.ram_bytes += discard_bytes;
    if (!send_device(0, false, true, sc.device_bytes)) return false;
    sc.transfer_s = now() - t_xfer;
    const double t_resume = now();
    wait_s(static_cast<double>(sc.device_bytes) / s_.device.resume_bandwidth);
    if (link_.crashed()) return fail_reason(link_.failure());
    dst_.ram.missing.reset(dst_.ram.store.page_count(), ram_missing);
    r = device_pages ? set_state(dst_, *state_with(vfio::DataRule::kResumeRunning))
                     : set_state(dst_, MigState::kRunning);
    if (r < 0)
      return fail_reason(device_corrupted_
                             ? refused_stream(r)
                             : "the destination device rejected the switch package (" +
                                   vfio::errno_name(static_cast<int>(-r)) + ")");
    sc.resume_s = now() - t_resume;
    switched_ = true;
    switched_at_ = now();
    verify_switch();
    clone_reference();
    {
      pc_work_at_switch_ = {src_.device.engine_pages_done(), src_.vcpus.state().submitted};
    }
    for (Host* h : {&dst_, ref_}) {
      if (!h) continue;
      h->driver.load_state(src_.driver.state());
      h->vcpus.load_state(src_.vcpus.state());
      h->vcpus.set_throttle(0);
      h->set_vm_running(true);
    }
    src_.vcpus.set_throttle(0);
    result.downtime_s = now() - t_stop;
    if (opt_.recorder) opt_.recorder->switchover(t_stop, t_resume, result.downtime_s);
    result.stop_copy = sc;
    result.ram_bytes += sc.ram_bytes;
    result.device_bytes += sc.device_bytes;
    result.switchover = "postcopy";  // converged stays false: the rule did not fire
    pc_t_stop_ = t_stop;
    pc_missing_vram_at_switch_ = dst_.device.missing_pages();
    pc_missing_ram_at_switch_ = dst_.ram.missing.count();
    return true;
  }

  // Serves faults and pushes the rest until the destination has every page.
  // Returns false when the link failed: the VM is then split across hosts.
  bool run_postcopy() {
    const auto& rules = *proto().postcopy;
    const bool eventfd = rules.fault_delivery == "eventfd";
    const double t0 = now();
    double next_poll = t0;
    const uint64_t vram_record = 16 + 8 + s_.device.config.page_size;
    const uint32_t bg_flags = VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND |
                              (s_.migration.hot_first ? VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST : 0);
    uint64_t ram_cursor = 0;
    double next_sample = t0;
    auto& bytes = pc_bytes_;
    while (dst_.device.missing_pages() > 0 || dst_.ram.missing.count() > 0) {
      if (link_.crashed()) return fail_reason(link_.failure());
      // Device faults reach the VMM by the proposal's mechanism.
      std::vector<uint64_t> vfaults;
      if (rules.device_pages && (eventfd || now() >= next_poll)) {
        vfaults = read_device_faults();
        if (!eventfd) next_poll = now() + rules.poll_interval_s;
      }
      auto rfaults = dst_.ram.missing.take_faults();
      if (now() >= next_sample) {
        sample_slowdown();
        if (opt_.recorder)
          opt_.recorder->counter(
              "missing pages", now(),
              static_cast<double>(dst_.device.missing_pages() + dst_.ram.missing.count()));
        next_sample = now() + 1e-3;
      }
      if (!vfaults.empty() || !rfaults.empty()) {
        const auto span = RunRecorder::link_scope(opt_.recorder, "page requests");
        wait_s(eventfd || vfaults.empty() ? rules.fault_latency_s : 0);
        link_.latency();  // the request travels to the source
        for (uint64_t p : vfaults) {
          uint64_t q = 0;
          request_device_pages(p, 1 + s_.migration.prefetch_pages, 0, q);
        }
        std::vector<uint64_t> ram_pages;
        for (uint64_t p : rfaults)
          for (uint64_t k = p;
               k <= p + s_.migration.prefetch_pages && k < src_.ram.store.page_count(); ++k)
            if (dst_.ram.missing.test(k)) ram_pages.push_back(k);
        if ((rules.device_pages && !move_device_pages(bytes)) || !push_ram(ram_pages, bytes))
          return false;
        link_.latency();  // and the pages come back
        // The background stream keeps going between faults (one slice per
        // round), so a device that faults continuously still drains.
      }
      const bool background = s_.migration.background_push || now() - t0 > s_.migration.run_after_s;
      if (!background) {
        // Only faults move pages: wait for one (or the next poll).
        const auto timeout =
            sc_time::from_seconds(eventfd ? 1e-3 : std::max(1e-6, next_poll - now()));
        sc_core::wait(timeout, dst_.device.vram.fault_raised() | dst_.ram.missing.fault_raised());
        if (!eventfd || !rules.device_pages) continue;
        wait_s(0);
        continue;
      }
      // Background push: a short slice at link speed, device and RAM in turn.
      const auto span = RunRecorder::link_scope(opt_.recorder, "background push");
      // The slice is split between device and RAM pages while both are missing.
      const double budget = link_.bandwidth(now(), false) * kPostcopySlice;
      const bool both = dst_.device.missing_pages() > 0 && dst_.ram.missing.count() > 0;
      const double share = both ? budget / 2 : budget;
      if (dst_.device.missing_pages() > 0) {
        uint64_t q = 0;
        request_device_pages(0, std::max<uint64_t>(1, static_cast<uint64_t>(share / vram_record)),
                             bg_flags, q);
        if (!move_device_pages(bytes)) return false;
      }
      std::vector<uint64_t> ram_pages;
      const uint64_t max_ram =
          std::max<uint64_t>(1, static_cast<uint64_t>(share / (page_ + kPageHeaderBytes)));
      while (ram_pages.size() < max_ram && ram_cursor < src_.ram.store.page_count()) {
        if (dst_.ram.missing.test(ram_cursor)) ram_pages.push_back(ram_cursor);
        ++ram_cursor;
      }
      if (!push_ram(ram_pages, bytes)) return false;
    }
    return true;
  }

  // End of post-copy: every page is at the destination. The source stops
  // serving; the destination leaves its running-while-resuming state.
  void finish_postcopy() {
    const auto& rules = *proto().postcopy;
    const double t_end = now();
    bool refused = false;
    if (rules.device_pages) {
      set_state(src_, MigState::kStop);
      refused = set_state(dst_, MigState::kRunning) < 0;
      if (refused)
        result.verification.differences.push_back("the destination refused to leave post-copy");
    } else {
      set_state(src_, MigState::kStop);
    }
    // Every page placed during post-copy must carry the source's content at
    // its stop (the source has not run since).
    auto& v = result.verification;
    std::set<uint64_t> distinct;
    PageDiff placed_bad;
    for (const auto& [p, t] : dst_.device.vram.placed()) {
      distinct.insert(p);
      if (src_.device.vram.token(p) != t) {
        if (v.vram_pages_mismatched++ < 8)
          v.differences.push_back("post-copy: vram page " + std::to_string(p));
        if (!placed_bad.lowest || p < *placed_bad.lowest) placed_bad.lowest = p;
        ++placed_bad.count;
      }
    }
    pc_fetched_vram_ = dst_.device.vram.placed().size();
    const uint64_t vram_record = 16 + 8 + s_.device.config.page_size;
    const uint64_t records = pc_device_bytes_ / vram_record;
    pc_duplicates_ = records > distinct.size() ? records - distinct.size() : 0;
    // Work done on the destination vs the never-migrated reference.
    sample_slowdown();
    const auto d = work(dst_);
    const auto r = ref_ ? work(*ref_) : d;
    const auto s0 = pc_work_at_switch_;
    std::vector<double> stalls = dst_.device.vram.stalls();
    stalls.insert(stalls.end(), dst_.ram.missing.stalls().begin(), dst_.ram.missing.stalls().end());
    std::sort(stalls.begin(), stalls.end());
    double total = 0;
    for (double x : stalls) total += x;
    auto pct = [&](double q) {
      if (stalls.empty()) return 0.0;
      return stalls[std::min(stalls.size() - 1,
                             static_cast<size_t>(q * static_cast<double>(stalls.size())))];
    };
    const double ref_dev = static_cast<double>(r.first - s0.first),
                 dst_dev = static_cast<double>(d.first - s0.first);
    const double ref_cpu = static_cast<double>(r.second - s0.second),
                 dst_cpu = static_cast<double>(d.second - s0.second);
    nlohmann::json pc;
    pc["protocol"] = s_.device.protocol;
    pc["device_pages_postcopied"] = rules.device_pages;
    pc["fault_delivery"] = rules.device_pages ? rules.fault_delivery : "userfaultfd";
    pc["faults"] = dst_.device.vram.faults() + dst_.ram.missing.faults();
    pc["device_faults"] = dst_.device.vram.faults();
    pc["ram_faults"] = dst_.ram.missing.faults();
    pc["missing_vram_pages_at_switch"] = pc_missing_vram_at_switch_;
    pc["missing_ram_pages_at_switch"] = pc_missing_ram_at_switch_;
    pc["vram_pages_fetched"] = pc_fetched_vram_;
    pc["ram_pages_fetched"] = pc_fetched_ram_;
    pc["pages_sent_twice"] = pc_duplicates_;
    pc["bytes"] = pc_bytes_;
    pc["duration_s"] = t_end - pc_t_stop_ - result.downtime_s;
    pc["risk_window_s"] = t_end - pc_t_stop_;
    pc["stall_total_s"] = total;
    pc["stall_p50_s"] = pct(0.5);
    pc["stall_p99_s"] = pct(0.99);
    pc["stall_max_s"] = stalls.empty() ? 0.0 : stalls.back();
    pc["device_work_pages"] = d.first - s0.first;
    pc["reference_device_work_pages"] = r.first - s0.first;
    pc["vcpu_writes"] = d.second - s0.second;
    pc["reference_vcpu_writes"] = r.second - s0.second;
    pc["device_slowdown"] = ref_dev > 0 ? 1.0 - dst_dev / ref_dev : 0.0;
    pc["device_slowdown_peak"] = pc_peak_slowdown_;
    pc["vcpu_slowdown"] = ref_cpu > 0 ? 1.0 - dst_cpu / ref_cpu : 0.0;
    result.postcopy = pc;
    if (opt_.recorder) {
      opt_.recorder->phase("dst migration", "post-copy", pc_t_stop_ + result.downtime_s, t_end);
      auto& log = opt_.recorder->log;
      for (const auto& f : dst_.device.vram.fault_log())
        log.faults.push_back({f.t_s, f.stall_s, "vram", f.page});
      for (const auto& f : dst_.ram.missing.fault_log())
        log.faults.push_back({f.t_s, f.stall_s, "ram", f.page});
      std::sort(log.faults.begin(), log.faults.end(),
                [](const PageFaultEvent& a, const PageFaultEvent& b) { return a.t_s < b.t_s; });
      opt_.recorder->counter("missing pages", t_end, 0);
    }
    result.ram_bytes += pc_bytes_ - pc_device_bytes_;
    result.device_bytes += pc_device_bytes_;
    v.continuation_matches = true;  // timing differs by design (faults); see docs/postcopy.md
    v.passed = v.vram_pages_mismatched == 0 && v.ram_pages_mismatched == 0 &&
               v.device_fields_mismatched == 0 && dst_.device.missing_pages() == 0 &&
               dst_.ram.missing.count() == 0 && !refused;
    if (placed_bad.count > 0) {
      const uint64_t p = *placed_bad.lowest;
      note_failure("postcopy", {"vram_page", "", p, std::nullopt, std::nullopt});
      v.differences_in_check = placed_bad.count;
    }
    if (dst_.device.missing_pages() > 0)
      note_failure("postcopy",
                   {"missing_pages", "VRAM", std::nullopt, 0, dst_.device.missing_pages()});
    if (dst_.ram.missing.count() > 0)
      note_failure("postcopy",
                   {"missing_pages", "guest RAM", std::nullopt, 0, dst_.ram.missing.count()});
    if (refused)
      note_failure("postcopy",
                   {"destination_state", "the destination refused to leave post-copy", {}, {}, {}});
    for (Host* h : {&dst_, ref_})
      if (h) h->set_vm_running(false);
  }

  // Engine page operations and vCPU writes done so far.
  static std::pair<uint64_t, uint64_t> work(const Host& h) {
    return {h.device.engine_pages_done(), h.vcpus.state().submitted};
  }
  // The largest lag of the destination's device work behind the reference
  // seen so far (sampled every 1 ms: engines that catch up later hide it at
  // the end). Counted once the reference has done 100 pages since the switch.
  void sample_slowdown() {
    if (!ref_) return;
    const auto d = work(dst_), r = work(*ref_);
    const double ref_dev = static_cast<double>(r.first - pc_work_at_switch_.first);
    if (ref_dev >= 100)
      pc_peak_slowdown_ =
          std::max(pc_peak_slowdown_,
                   1.0 - static_cast<double>(d.first - pc_work_at_switch_.first) / ref_dev);
  }
  double pc_peak_slowdown_ = 0;
  double pc_t_stop_ = 0;
  uint64_t pc_missing_vram_at_switch_ = 0, pc_missing_ram_at_switch_ = 0;
  uint64_t pc_fetched_vram_ = 0, pc_fetched_ram_ = 0, pc_duplicates_ = 0, pc_bytes_ = 0,
           pc_device_bytes_ = 0;
  std::pair<uint64_t, uint64_t> pc_work_at_switch_{0, 0};

  // Source back to running, destination torn down: nothing lost.
  void cancel(const std::string& why, const std::string& outcome = "cancelled") {
    result.outcome = outcome;
    result.reason = why;
    if (link_.source_crashed()) {  // the VM ran there: gone with it, the destination never ran
      result.outcome = "vm_lost";
      result.reason = why + " before the switch: the VM was running there and is lost with it";
      dst_.frontend.ioctl(dst_.frontend.device_fd(), VFIO_DEVICE_RESET, nullptr);
      return;
    }
    const uint64_t before = src_.device.state_hash();
    long r = v1_ ? v1_write_state(src_, 1) : set_state(src_, MigState::kRunning);
    bool reset = false;
    if (r < 0) {
      src_.frontend.ioctl(src_.frontend.device_fd(), VFIO_DEVICE_RESET, nullptr);
      reset = true;
    }
    if (!link_.dest_crashed())  // nothing to tear down on a crashed host
      dst_.frontend.ioctl(dst_.frontend.device_fd(), VFIO_DEVICE_RESET, nullptr);
    src_.vcpus.set_throttle(0);
    src_.set_vm_running(true);
    // Nothing lost: the source runs again with the state it had (a reset,
    // needed only after a device error, keeps VRAM but not the registers).
    const bool running =
        src_.device.running() && src_.vcpus.running() &&
        (v1_ ? (src_.frontend.state_value() & 7) == 1 : src_.frontend.state_name() == "RUNNING");
    result.verification.source_intact = running && (reset || src_.device.state_hash() == before);
    result.verification.source_reset = reset;
    if (reset) {  // a device that had to be reset failed: not a clean cancel
      result.outcome = "failed";
      result.reason +=
          "; the source device was reset (VFIO_DEVICE_RESET: registers and engines "
          "to their reset values, VRAM kept) and runs again";
    }
  }

  void verify() {
    auto& v = result.verification;
    v.checked = true;
    // 1. At the start of the destination: equal to the source at its stop.
    const auto diff = models::compare_devices(src_.device, dst_.device);
    v.vram_pages_mismatched = diff.vram_pages;
    v.device_fields_mismatched = diff.fields;
    for (const auto& d : diff.differences) v.differences.push_back(d);
    const auto ram =
        differing_pages(src_.ram.store, dst_.ram.store, [](uint64_t) { return false; });
    for (uint64_t p : ram.listed) v.differences.push_back("guest RAM page " + std::to_string(p));
    v.ram_pages_mismatched = ram.count;
    note_check("switch", diff, vram_pages(diff), ram);
    // Test hook (tests/sim/test_verification_summary.cpp): after the switch
    // check, the destination counts a fence and an interrupt it never had,
    // so only the continuation can find them.
    if (const char* h = std::getenv("MDEVSIM_TEST_DIVERGE"); h && std::string(h) == "continuation")
      for (auto r : {models::kFenceCompleted, models::kIrqCount})
        dst_.device.registers.set(r, dst_.device.registers.get(r) + 1);
    // 2. The migrated run continues like a run that never migrated: the
    // source, resumed from the same point (the reference run), against the
    // destination over the same simulated time.
    src_.device.set_running(true);
    src_.set_vm_running(true);
    wait_s(s_.migration.run_after_s);
    // Both frozen at one instant: stopped one after the other, the second
    // would run on for the first one's stop latency.
    src_.set_vm_running(false);
    dst_.set_vm_running(false);
    models::stop_together({&src_.device, &dst_.device});
    const auto later = models::compare_devices(src_.device, dst_.device, 4);
    const auto later_ram =
        src_.ram.store.content_hash() == dst_.ram.store.content_hash()
            ? PageDiff{}
            : differing_pages(src_.ram.store, dst_.ram.store, [](uint64_t) { return false; });
    v.continuation_matches = later.equal() && later_ram.count == 0;
    const std::string after = "after " + std::to_string(s_.migration.run_after_s) + " s: ";
    for (const auto& d : later.differences) v.differences.push_back(after + d);
    if (later_ram.count > 0)
      v.differences.push_back(after + std::to_string(later_ram.count) +
                              " guest RAM pages differ (lowest: page " +
                              std::to_string(*later_ram.lowest) + ")");
    note_check("continuation", later, vram_pages(later), later_ram);
    v.passed = v.failed_check.empty();
    if (!v.continuation_matches)
      v.differences.push_back("the migrated run diverged from the reference run");
  }

  void run() {
    const double t0 = s_.migration.start_at_s;
    wait_s(t0);
    if (!setup()) {
      cancel(reason_, fail_outcome_);
      finish(t0);
      return;
    }
    uint32_t iteration = 0, trigger = 0;
    double throttle = 0;
    bool switch_now = false, forced = false;
    const auto mode = s_.migration.mode;
    bool to_postcopy = mode == MigrationMode::kPostcopy;
    if (s_.migration.timeout_s > 0) link_.set_deadline(t0 + s_.migration.timeout_s);
    while (!to_postcopy) {
      IterationResult it;
      it.index = iteration;
      it.throttle = throttle;
      if (!iterate(it) && !link_.timed_out()) {
        cancel(reason_, fail_outcome_);
        finish(t0);
        return;
      }
      // QEMU's rule: remaining (RAM dirty + device stop-copy size) over the
      // bandwidth measured in this iteration, against the downtime limit.
      sync_dma_dirty();
      const uint64_t ram_dirty = src_.ram.store.dirty().count() + dma_pending_.count();
      if (v1_) v1_pending_hint_ = v1_rd64(src_, 8);
      const uint64_t remaining = ram_dirty * (page_ + kPageHeaderBytes) + data_size();
      it.remaining_bytes = remaining;
      it.expected_downtime_s = static_cast<double>(remaining) / it.bandwidth;
      if (opt_.recorder)
        opt_.recorder->sync(now(),
                            ram_dirty + (v1_ ? v1_pending_hint_ : it.device_dirty_bytes) /
                                            s_.device.config.page_size,
                            remaining);
      result.iterations.push_back(it);
      result.ram_bytes += it.ram_bytes;
      result.device_bytes += it.device_bytes;
      ++iteration;
      if (it.expected_downtime_s <= s_.migration.downtime_limit_s) {
        switch_now = true;
      } else if ((s_.migration.max_iterations && iteration >= s_.migration.max_iterations) ||
                 (s_.migration.timeout_s > 0 && now() - t0 >= s_.migration.timeout_s) ||
                 link_.timed_out()) {
        if (s_.migration.on_no_convergence == OnNoConvergence::kCancel) {
          const std::string when =
              link_.timed_out() ? "the timeout (" + format_duration(s_.migration.timeout_s) +
                                      ") ended iteration " + std::to_string(it.index) + " early;"
                                : "after " + std::to_string(iteration) +
                                      (iteration == 1 ? " iteration" : " iterations");
          cancel("did not converge: " + when + " the expected downtime is " +
                 std::to_string(it.expected_downtime_s) + " s, above the " +
                 std::to_string(s_.migration.downtime_limit_s) + " s limit");
          finish(t0);
          return;
        }
        switch_now = forced = true;
      }
      if (switch_now) break;
      if (mode == MigrationMode::kHybrid &&
          (iteration >= s_.migration.postcopy_after_iterations ||
           (s_.migration.postcopy_after_s > 0 && now() - t0 >= s_.migration.postcopy_after_s))) {
        to_postcopy = true;
        break;
      }
      // Auto-converge (QEMU): RAM dirtied in the period above 50% of what was
      // sent, twice in a row, raises the vCPU throttle 20%, then +10% to 99%.
      if (s_.migration.auto_converge) {
        const double dirtied = static_cast<double>(src_.ram.store.dirty().count()) * page_;
        if (dirtied > 0.5 * static_cast<double>(it.ram_bytes + it.device_bytes)) {
          if (++trigger >= 2) {
            throttle = throttle == 0 ? 0.2 : std::min(0.99, throttle + 0.1);
            src_.vcpus.set_throttle(throttle);
            trigger = 0;
          }
        } else {
          trigger = 0;
        }
      }
    }
    link_.set_deadline(0);  // the switch and what follows run to the end
    if (to_postcopy) {
      if (!switchover_postcopy()) {  // nothing runs at the destination yet: safe to cancel
        cancel(reason_, fail_outcome_);
        finish(t0);
        return;
      }
      const bool ok = run_postcopy();
      const uint64_t vram_unreceived = dst_.device.missing_pages(),
                     ram_unreceived = dst_.ram.missing.count();
      finish_postcopy();
      if (!ok) {
        // What the destination never got: lost with the VM.
        (*result.postcopy)["vram_pages_never_received"] = vram_unreceived;
        (*result.postcopy)["ram_pages_never_received"] = ram_unreceived;
        result.outcome = "vm_lost";
        result.reason = link_.dest_crashed()
                            ? "post-copy failed: " + link_.failure() +
                                  ": the VM was running there and is lost with it (" +
                                  std::to_string(vram_unreceived) + " VRAM and " +
                                  std::to_string(ram_unreceived) +
                                  " RAM pages had not left the source)"
                            : "post-copy failed: " +
                                  (reason_.empty() ? std::string("the link failed") : reason_) +
                                  " while the VM's state was split across the hosts (the "
                                  "destination runs without " +
                                  std::to_string(dst_.device.missing_pages()) + " VRAM and " +
                                  std::to_string(dst_.ram.missing.count()) + " RAM pages)";
        result.verification.passed = false;
        finish(t0);
        return;
      }
      result.outcome = result.verification.passed ? "completed" : "failed";
      if (!result.verification.passed)
        result.reason = "verification failed " + describe_verification_failure(result.verification);
      finish(t0);
      return;
    }
    if (!switchover(forced)) {
      cancel(reason_, fail_outcome_);
      finish(t0);
      return;
    }
    result.outcome = "completed";
    const double t_end = now();
    verify();
    if (!result.verification.passed) {
      result.outcome = "failed";
      result.reason = "verification failed " + describe_verification_failure(result.verification);
    }
    if (forced)
      result.reason =
          (result.reason.empty() ? "" : result.reason + "; ") +
          std::string("did not converge: switched over anyway (on_no_convergence: force)");
    finish(t0, t_end);
  }

  void finish(double t0, double t_end = -1) {
    result.total_time_s = (t_end < 0 ? now() : t_end) - t0;
    ended_ = true;
    account_faults(t0, t0 + result.total_time_s);
    if (opt_.recorder) opt_.recorder->finish(now());
    for (auto* h : {&src_, &dst_}) {
      const std::string who = h == &src_ ? "src " : "dst ";
      for (const auto& [k, n] : h->frontend.call_counts()) result.abi_calls[who + k] += n;
      for (const auto& [k, n] : h->frontend.errno_counts()) result.abi_errors[k] += n;
    }
    sc_core::sc_stop();
  }

  const Scenario& s_;
  RunOptions opt_;
  Host& src_;
  Host& dst_;
  Host* ref_;  // post-copy: a copy of the source at its stop that never migrates
  Link link_;
  bool v1_;
  uint32_t page_;
  models::DirtyBitmap dma_pending_;
  std::vector<std::pair<uint64_t, uint64_t>> slice_;
  uint64_t initial_zero_pages_ = 0;  // first pass: never-written pages, sent as headers
  std::vector<uint64_t>
      report_bitmap_;  // dirty-page report buffer, reused  // reused between RAM slices
  bool dma_logging_ = false, type1_ = false, precopy_ = false;
  uint64_t flags_ = 0;
  int save_fd_ = -1, resume_fd_ = -1;
  uint64_t v1_pending_hint_ = 0;
  std::string reason_;
  std::string fail_outcome_ = "cancelled";  // "failed" once the device or the data failed
  bool switching_ = false;                  // the source VM has stopped for the switch
  bool switched_ = false;                   // the destination runs the VM
  double switched_at_ = 0;                  // since then
  bool ended_ = false;
  bool device_corrupted_ = false, device_failed_ = false;
};

}  // namespace

Result run_migration(const Scenario& s, const RunOptions& options) {
  Scenario dst_scenario = s;
  // A destination that rejects the stream: a device of another configuration.
  if (s.device.reject_stream)
    dst_scenario.device.config.contexts =
        s.device.config.contexts == 256 ? 255 : s.device.config.contexts + 1;
  Host src("src", s, true);
  Host dst("dst", dst_scenario, false);
  dst.set_vm_running(false);  // the destination VM waits for the incoming migration
  RunOptions o = options;
  o.exact = o.exact || s.migration.exact;
  // Post-copy: a third VM, cloned from the source at its stop, runs beside
  // the destination without faults (the "never migrated" reference).
  std::unique_ptr<Host> ref;
  if (s.migration.mode != MigrationMode::kPrecopy) {
    ref = std::make_unique<Host>("ref", s, false);
    ref->set_vm_running(false);
  }
  if (o.recorder) o.recorder->attach(src, dst);
  MigrationDriver driver("migration", s, o, src, dst, ref.get());
  o.recorder ? o.recorder->simulate() : sc_core::sc_start();
  Result r = driver.result;
  r.scenario = s.name;
  r.seed = s.seed;
  return r;
}

}  // namespace mdevsim::sim
