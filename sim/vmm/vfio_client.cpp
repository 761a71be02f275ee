#include "vmm/vfio_client.h"

#include <algorithm>
#include <cerrno>

#include "mdevsim/sim/run_outputs.h"
#include "vmm/abi_calls.h"

namespace mdevsim::sim::vmm {

namespace {

namespace abi = mdevsim::vmm;  // the typed calls (vmm/abi_calls.h)
using abi::kV1DataOffset;
using abi::kV1DataSize;
using abi::kV1PendingBytes;
constexpr uint64_t kReadChunk = 1 << 20;  // QEMU reads device data 1 MiB at a time
constexpr size_t kFaultBatch = 4096;      // faults taken per FAULTS call

bool has(const std::vector<std::string>& v, const char* x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

ProtocolRoles ProtocolRoles::find(const vfio::ProtocolSpec& spec) {
  using vfio::DataRule;
  ProtocolRoles r;
  r.spec = &spec;
  constexpr uint32_t kRun = vfio::kAttrRunning, kSave = vfio::kAttrSaving,
                     kResume = vfio::kAttrResuming, kP2P = vfio::kAttrP2PQuiesced,
                     kServe = vfio::kAttrServing, kErr = vfio::kAttrError;
  constexpr uint32_t kRole = kRun | kSave | kResume | kP2P | kServe | kErr;
  auto pick = [&](std::optional<uint32_t>& slot, uint32_t attrs, std::optional<DataRule> data) {
    for (const auto& st : spec.states)
      if ((st.attrs & kRole) == attrs && (!data || st.data == *data)) {
        slot = st.value;
        return;
      }
  };
  pick(r.running, kRun, DataRule::kNone);
  pick(r.stop, 0, DataRule::kNone);
  pick(r.precopy, kRun | kSave, DataRule::kPreCopy);
  pick(r.precopy_p2p, kRun | kSave | kP2P, DataRule::kPreCopy);
  pick(r.stop_copy, kSave, DataRule::kSave);
  pick(r.resuming, kResume, DataRule::kResume);
  pick(r.running_p2p, kRun | kP2P, DataRule::kNone);
  pick(r.error, kErr, std::nullopt);
  for (const auto& st : spec.states) {
    if (st.data == DataRule::kServe && !r.serve) r.serve = st.value;
    if (st.data == DataRule::kResumeRunning && !r.resume_running) r.resume_running = st.value;
  }
  return r;
}

std::string ProtocolRoles::name_of(uint32_t value) const {
  const auto i = spec->by_value(value);
  return i ? spec->states[*i].name : std::to_string(value);
}

// ------------------------------------------------------------ common

bool VfioClient::request_pages(uint64_t, uint64_t, uint32_t, uint64_t& queued) {
  queued = 0;
  return false;
}
std::vector<uint64_t> VfioClient::read_faults(uint64_t*) { return {}; }
bool VfioClient::attach_postcopy(bool, PostcopyAttach&) { return false; }
bool VfioClient::finish_postcopy(bool) { return true; }
bool VfioClient::read_queued(std::vector<uint8_t>& out) {
  out.clear();
  return true;
}
bool VfioClient::write_resume(const std::vector<uint8_t>&) { return true; }

void FrontendClient::reset(vfio::Frontend& fe) { abi::device_reset(fe); }

// Arms the frontend's fault hook: the next time the device walks this arc, the
// vendor driver fails it (a device_error fault).
void FrontendClient::fail_next_arc(std::pair<uint32_t, uint32_t> arc) {
  src_.inject_arc_failure(arc.first, arc.second);
}

// Flips one byte in the middle of device bytes on the wire.
void FrontendClient::corrupt(uint8_t* data, uint64_t n) {
  const auto i = ctx_.take_corruption(CorruptTarget::kDevice);
  if (!i || n == 0) return;
  data[n / 2] ^= 0x10;
  ctx_.device_corrupted = true;
  ctx_.result.faults[*i].effect = "flipped stream byte " + std::to_string(n / 2) + " of a " +
                                  std::to_string(n) + "-byte device data chunk on the wire";
}

void FrontendClient::add_abi_counts(Result& r) const {
  for (const vfio::Frontend* fe : {&src_, &dst_}) {
    const std::string who = fe == &src_ ? "src " : "dst ";
    for (const auto& [k, n] : fe->call_counts()) r.abi_calls[who + k] += n;
    for (const auto& [k, n] : fe->errno_counts()) r.abi_errors[k] += n;
  }
}

// QEMU's loop: one read (v2: of at most `max` bytes; v1: one data section),
// sent at link speed (the loop paces the rate limit itself).
bool FrontendClient::iterate_chunk(IterationResult& it, uint64_t max) {
  if (!precopy_) return true;
  uint64_t n = 0;
  const bool ok = send(max, false, false, n);
  it.device_bytes += n;
  return ok;
}

// ------------------------------------------------------------ v1

long V1RegionClient::write_state(vfio::Frontend& fe, uint32_t v) {
  return abi::v1_write_state(fe, v);
}
uint64_t V1RegionClient::rd64(vfio::Frontend& fe, uint64_t off, long* err) {
  uint64_t v = 0;
  const long r = abi::v1_read_u64(fe, off, v);
  if (err) *err = r;
  return v;
}

bool V1RegionClient::setup() {
  const uint32_t pre = *roles_.precopy, res = *roles_.resuming;
  if (write_state(src_, pre) < 0)
    return ctx_.fail("the source device refused pre-copy (" + roles_.name_of(pre) + ")");
  if (write_state(dst_, res) < 0)
    return ctx_.fail("the destination device refused resuming (" + roles_.name_of(res) + ")");
  precopy_ = true;
  return true;
}

void V1RegionClient::pending_estimate(IterationResult&) { avail_ = pending_hint_; }

bool V1RegionClient::iterate(IterationResult& it) {
  return send(avail_, true, false, it.device_bytes);
}

uint64_t V1RegionClient::pending_exact() {
  pending_hint_ = rd64(src_, kV1PendingBytes);
  return rd64(src_, kV1PendingBytes);  // QEMU v1: pending_bytes is the device's contribution
}

uint64_t V1RegionClient::precopy_bytes() { return rd64(src_, kV1PendingBytes); }

bool V1RegionClient::complete(StopCopyResult& sc) { return send(0, false, true, sc.device_bytes); }

bool V1RegionClient::stop_source(bool) {
  const long r = write_state(src_, *roles_.stop_copy);
  if (r < 0) {
    failed_ = true;
    return ctx_.fail("the source device failed to stop (" + vfio::errno_name(static_cast<int>(-r)) +
                     ")");
  }
  return true;
}

long V1RegionClient::start_destination(bool) { return write_state(dst_, *roles_.running); }
void V1RegionClient::end_source_session() { write_state(src_, *roles_.stop); }
long V1RegionClient::run_source_again() { return write_state(src_, *roles_.running); }
bool V1RegionClient::source_running() const { return (src_.state_value() & 7) == *roles_.running; }
std::pair<uint32_t, uint32_t> V1RegionClient::next_switch_arc() const {
  // running -> pre-copy, pre-copy -> stop-and-copy
  const uint32_t cur = src_.state_value();
  return {cur, cur == *roles_.running ? *roles_.precopy : *roles_.stop_copy};
}

bool V1RegionClient::send(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) {
  const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kDeviceData);
  auto& link = ctx_.link;
  while (until_end || bytes < limit) {
    long err = 0;
    const uint64_t pending = rd64(src_, kV1PendingBytes, &err);
    if (err) return ctx_.fail("reading pending_bytes failed");
    if (pending == 0) return true;
    const uint64_t off = rd64(src_, kV1DataOffset, &err);
    const uint64_t size = rd64(src_, kV1DataSize, &err);
    if (err) return ctx_.fail("the v1 iteration failed");
    if (size == 0) return true;
    if (buf_.size() < size) buf_.resize(size);
    if (abi::v1_pread(src_, off, buf_.data(), size) != static_cast<long>(size))
      return ctx_.fail("reading the v1 data section failed");
    // The section is read out no faster than the device saves (save_bandwidth).
    const bool arrived = link.transfer(size, limited, ctx_.scenario.device.save_bandwidth);
    if (!arrived && !link.timed_out()) return ctx_.fail(link.failure());
    if (ctx_.corruption_due(CorruptTarget::kDevice)) corrupt(buf_.data(), size);
    // At the deadline the segment is still delivered: it left the source's
    // data section and the stream must stay whole.
    const uint64_t doff = rd64(dst_, kV1DataOffset);
    abi::v1_pwrite(dst_, doff, buf_.data(), size);
    const long w = abi::v1_write_u64(dst_, kV1DataSize, size);
    if (w < 0) return ctx_.fail(ctx_.refused_stream(w));
    bytes += size;
    if (!arrived) return false;
  }
  return true;
}

// ------------------------------------------------------------ v2

V2FeatureClient::V2FeatureClient(MigrationContext& ctx, vfio::Frontend& src, vfio::Frontend& dst,
                                 const vfio::ProtocolSpec& spec, std::vector<std::string> features)
    : FrontendClient(ctx, src, dst, spec), features_(std::move(features)) {}

long V2FeatureClient::set_state(vfio::Frontend& fe, uint32_t state, int* fd) {
  return abi::set_device_state(fe, state, fd);
}

bool V2FeatureClient::setup() {
  uint64_t flags = 0;
  if (abi::get_migration_flags(src_, flags) < 0 || !(flags & VFIO_MIGRATION_STOP_COPY))
    return ctx_.fail("the device does not support migration (VFIO_DEVICE_FEATURE_MIGRATION)");
  if (flags & VFIO_MIGRATION_PRE_COPY) {
    if (!roles_.precopy || set_state(src_, *roles_.precopy, &save_fd_) < 0)
      return ctx_.fail("the source device refused PRE_COPY");
    precopy_ = true;
  }
  if (!roles_.resuming || set_state(dst_, *roles_.resuming, &resume_fd_) < 0)
    return ctx_.fail("the destination device refused RESUMING");
  return true;
}

void V2FeatureClient::pending_estimate(IterationResult& it) {
  avail_ = 0;
  if (!precopy_) return;
  uint64_t initial = 0, dirty = 0;
  if (abi::get_precopy_info(src_, save_fd_, initial, dirty) < 0) return;
  avail_ = initial + dirty;
  it.device_dirty_bytes = dirty;
}

bool V2FeatureClient::iterate(IterationResult& it) {
  return !precopy_ || send(avail_, true, false, it.device_bytes);
}

uint64_t V2FeatureClient::precopy_bytes() {
  uint64_t initial = 0, dirty = 0;
  if (!precopy_ || abi::get_precopy_info(src_, save_fd_, initial, dirty) < 0) return 0;
  return initial + dirty;
}
uint64_t V2FeatureClient::initial_bytes() {
  uint64_t initial = 0, dirty = 0;
  if (!precopy_ || abi::get_precopy_info(src_, save_fd_, initial, dirty) < 0) return 0;
  return initial;
}

uint64_t V2FeatureClient::pending_exact() {
  uint64_t length = 0;
  // A device without the size ioctl makes QEMU assume 100 GiB.
  if (abi::get_data_size(src_, length) < 0) return uint64_t{100} << 30;
  return length;
}

bool V2FeatureClient::complete(StopCopyResult& sc) { return send(0, false, true, sc.device_bytes); }

// Through the P2P states where advertised (the kernel walks them). A device
// without PRE_COPY gets its save fd from STOP -> STOP_COPY.
bool V2FeatureClient::stop_source(bool serve) {
  long r;
  if (serve) {
    int fd = -1;
    r = set_state(src_, *roles_.serve, &fd);
    if (fd >= 0) save_fd_ = fd;
  } else if (precopy_) {
    r = set_state(src_, *roles_.stop_copy);
  } else {
    r = set_state(src_, *roles_.stop);
    if (r == 0) r = set_state(src_, *roles_.stop_copy, &save_fd_);
  }
  if (r < 0) {
    failed_ = true;
    return ctx_.fail("the source device failed to stop (" + vfio::errno_name(static_cast<int>(-r)) +
                     ")");
  }
  return true;
}

long V2FeatureClient::start_destination(bool postcopy) {
  return set_state(dst_, postcopy ? *roles_.resume_running : *roles_.running);
}
void V2FeatureClient::end_source_session() { set_state(src_, *roles_.stop); }
long V2FeatureClient::run_source_again() { return set_state(src_, *roles_.running); }
bool V2FeatureClient::source_running() const { return src_.state_value() == *roles_.running; }

std::pair<uint32_t, uint32_t> V2FeatureClient::next_switch_arc() const {
  const bool p2p = has(features_, "p2p"), pre = has(features_, "pre_copy");
  const uint32_t cur = src_.state_value();
  const auto& r = roles_;
  if (cur == r.running) return {cur, pre ? *r.precopy : p2p ? *r.running_p2p : *r.stop};
  if (cur == r.precopy) return {cur, p2p ? *r.precopy_p2p : *r.stop_copy};
  if (cur == r.running_p2p) return {cur, *r.stop};
  return {*r.stop, *r.stop_copy};
}

bool V2FeatureClient::send(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) {
  const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kDeviceData);
  auto& link = ctx_.link;
  // The data fd yields bytes no faster than the device reads its state out;
  // reading and sending overlap, so the slower of the two sets the pace.
  const double save_rate = ctx_.scenario.device.save_bandwidth;
  while (until_end || bytes < limit) {
    const double pace = std::min(link.bandwidth(now(), limited), save_rate);
    const uint64_t want = std::min<uint64_t>(
        std::max<uint64_t>(kReadChunk, static_cast<uint64_t>(pace * net::Link::kSlice)),
        until_end ? UINT64_MAX : limit - bytes);
    long n;
    const auto corrupt_now = ctx_.corruption_due(CorruptTarget::kDevice);
    if (ctx_.exact || corrupt_now) {
      buf_.resize(want);
      n = src_.read(save_fd_, buf_.data(), want);
      if (n > 0) {
        if (corrupt_now) corrupt(buf_.data(), static_cast<uint64_t>(n));
        const long w = dst_.write(resume_fd_, buf_.data(), static_cast<size_t>(n));
        if (w != n) return ctx_.fail(ctx_.refused_stream(w));
        delivered_ += static_cast<uint64_t>(n);
      }
    } else {
      n = src_.splice_to(save_fd_, dst_, resume_fd_, want);
      if (n < 0 && n != -ENOMSG) return ctx_.fail(ctx_.refused_stream(n));
      if (n > 0) delivered_ += static_cast<uint64_t>(n);
    }
    if (n == -ENOMSG || n == 0) return true;  // nothing more now / end of stream
    if (n < 0)
      return ctx_.fail("reading the device state failed (" +
                       vfio::errno_name(static_cast<int>(-n)) + ")");
    if (!link.transfer(static_cast<uint64_t>(n), limited, save_rate)) {
      // At the deadline: the chunk left the source and is already written
      // at the destination (the stream must stay whole); count it.
      if (!link.timed_out()) return ctx_.fail(link.failure());
      bytes += static_cast<uint64_t>(n);
      return false;
    }
    bytes += static_cast<uint64_t>(n);
  }
  return true;
}

bool V2FeatureClient::request_pages(uint64_t first, uint64_t count, uint32_t flags,
                                    uint64_t& queued) {
  return abi::postcopy_request(src_, save_fd_, first, count, flags, queued) == 0;
}

// Always through read()/write() (never the zero-copy hand-off): the bytes
// leave the source now and reach the destination a link latency later.
bool V2FeatureClient::read_queued(std::vector<uint8_t>& out) {
  out.clear();
  const double pace =
      std::min(ctx_.link.bandwidth(now(), false), ctx_.scenario.device.save_bandwidth);
  const uint64_t want =
      std::max<uint64_t>(kReadChunk, static_cast<uint64_t>(pace * net::Link::kSlice));
  if (buf_.size() < want) buf_.resize(want);  // kept: no zero-fill per call
  for (;;) {
    const long n = src_.read(save_fd_, buf_.data(), want);
    if (n == -ENOMSG || n == 0) break;  // nothing more queued / end of stream
    if (n < 0)
      return ctx_.fail("reading the device state failed (" +
                       vfio::errno_name(static_cast<int>(-n)) + ")");
    out.insert(out.end(), buf_.begin(), buf_.begin() + n);
  }
  if (!out.empty() && ctx_.corruption_due(CorruptTarget::kDevice)) corrupt(out.data(), out.size());
  return true;
}

bool V2FeatureClient::write_resume(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return true;
  const long w = dst_.write(resume_fd_, bytes.data(), bytes.size());
  if (w != static_cast<long>(bytes.size())) return ctx_.fail(ctx_.refused_stream(w));
  delivered_ += bytes.size();
  return true;
}

std::vector<uint64_t> V2FeatureClient::read_faults(uint64_t* missing) {
  std::vector<uint64_t> pages(kFaultBatch);
  uint64_t left = 0;
  if (abi::postcopy_faults(dst_, resume_fd_, pages, left) < 0) return {};
  if (missing) *missing = left;
  return pages;
}

bool V2FeatureClient::attach_postcopy(bool eventfd, PostcopyAttach& out) {
  out.faults.assign(kFaultBatch, 0);
  abi::PostcopyFaults f;
  if (abi::postcopy_faults_ext(dst_, resume_fd_, eventfd, out.faults, f) < 0) return false;
  out.missing_pages = f.missing;
  out.record_bytes = f.record_bytes;
  out.eventfd = f.eventfd >= 0;
  if (out.eventfd) {
    fault_fd_ = f.eventfd;
    dst_.set_poll_wake(fault_fd_, [this] { fault_wake_.notify(sc_core::SC_ZERO_TIME); });
  }
  return true;
}

bool V2FeatureClient::fault_signalled() { return fault_fd_ >= 0 && dst_.poll(fault_fd_) > 0; }

void V2FeatureClient::clear_fault_signal() {
  uint64_t count = 0;
  if (fault_fd_ >= 0) abi::eventfd_read(dst_, fault_fd_, count);
}

bool V2FeatureClient::finish_postcopy(bool device_pages) {
  set_state(src_, *roles_.stop);
  return !device_pages || set_state(dst_, *roles_.running) >= 0;
}

std::unique_ptr<VfioClient> make_vfio_client(MigrationContext& ctx, vfio::Frontend& src,
                                             vfio::Frontend& dst) {
  const auto& d = ctx.scenario.device;
  if (d.protocol == "v1")
    return std::make_unique<V1RegionClient>(ctx, src, dst, vfio::builtin_protocol_v1());
  return std::make_unique<V2FeatureClient>(
      ctx, src, dst, d.protocol_def ? *d.protocol_def : vfio::builtin_protocol_v2(), d.features);
}

}  // namespace mdevsim::sim::vmm
