#include "vmm/migration_thread.h"

#include <algorithm>
#include <limits>

#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim::vmm {

MigrationThread::MigrationThread(MigrationContext& ctx, RamSaver& ram, VfioClient& device,
                                 GuestRamPort& src_ram, VmPort& src_vm)
    : ctx_(ctx),
      ram_(ram),
      device_(device),
      src_ram_(src_ram),
      src_vm_(src_vm),
      cfg_(ctx.scenario.migration) {}

// RAM's estimate: what its pass has not sent yet (every page costs a full
// page on the wire here, as QEMU counts dirty pages × page size; the
// first pass's never-written pages their 8-byte headers).
uint64_t MigrationThread::ram_left() const {
  return zero_left_ * kZeroPageBytes + pass_.count * (ram_.page_ + kPageHeaderBytes);
}

// state_pending_exact: RAM syncs its dirty bitmap (vCPU log + device DMA)
// into the pass (the fresh pages join its unsent ones, and the pass starts
// again from the first page); the device reports its stop-copy size.
Pending MigrationThread::exact() {
  // RamSaver's reused buffer (all clear, as collect_dirty wants): left all clear.
  PageBits& fresh = ram_.scratch_;
  ram_.collect_dirty(fresh);
  synced_new_ = fresh.count;
  auto& words = pass_.words;
  if (words.size() < fresh.words.size()) words.resize(fresh.words.size(), 0);
  for (size_t w = 0; w < fresh.words.size(); ++w) {
    const uint64_t f = fresh.words[w];
    if (f == 0) continue;
    pass_.count += static_cast<uint64_t>(__builtin_popcountll(f & ~words[w]));
    words[w] |= f;
    fresh.words[w] = 0;
  }
  fresh.count = 0;
  cursor_ = 0;
  ram_.last_dirty_ = pass_.count;
  Pending p;
  p.ram = ram_left();
  const uint64_t stop_copy = device_.pending_exact();
  dev_pre_ = device_.precopy_bytes();
  const bool v1 = ctx_.scenario.device.protocol == "v1";  // v1 has no PRECOPY_INFO split
  p.device = v1 ? stop_copy : device_exact_pending(cfg_.qemu_policy, stop_copy, dev_pre_);
  return p;
}

// One save_live_iterate call of RAM: pages from the pass until `budget`
// bytes (at least one page), sent at line rate.
bool MigrationThread::ram_iterate(uint64_t budget) {
  auto& link = ctx_.link;
  if (zero_left_ > 0 && ram_.multifd_) {  // as packets of zero pages (vmm/multifd.h)
    auto& mf = *ram_.multifd_;
    const uint64_t per_page = (mf.packet_wire_bytes(0) + mf.page_count() - 1) / mf.page_count();
    const uint64_t n = std::max<uint64_t>(1, std::min(zero_left_, budget / per_page));
    const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kRamPages);
    const uint64_t before = it_.ram_bytes;
    if (!mf.send_zero(n, false, it_.ram_bytes)) return false;  // reason set there
    zero_left_ -= n;
    window_bytes_ += it_.ram_bytes - before;
    return ram_left() > 0 || sync_multifd();
  }
  if (zero_left_ > 0) {
    const uint64_t n = std::max<uint64_t>(1, std::min(zero_left_, budget / kZeroPageBytes));
    const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kRamPages);
    if (!link.transfer(n * kZeroPageBytes, false)) return ctx_.fail(link.failure());
    zero_left_ -= n;
    it_.ram_bytes += n * kZeroPageBytes;
    window_bytes_ += n * kZeroPageBytes;
    return true;
  }
  take_batch(budget);
  const uint64_t before = it_.ram_bytes;
  if (!ram_.send(batch_, false, it_.ram_bytes)) return false;  // reason set there
  // Sent: out of the pass.
  for (uint64_t p : batch_) pass_.words[p / 64] &= ~(uint64_t{1} << (p % 64));
  pass_.count -= batch_.size();
  if (!batch_.empty()) cursor_ = batch_.back() / 64;
  window_bytes_ += it_.ram_bytes - before;
  // Multifd: the pass is over, its round's flush and sync.
  return !ram_.multifd_ || ram_left() > 0 || sync_multifd();
}

// The pass's next unsent pages from the cursor, in page order, until
// `budget` bytes (at least one page), into batch_.
void MigrationThread::take_batch(uint64_t budget) {
  batch_.clear();
  const auto& words = pass_.words;
  size_t w = cursor_;
  uint64_t bits = w < words.size() ? words[w] : 0;
  uint64_t cost = 0;
  while (batch_.size() < pass_.count && (cost < budget || batch_.empty())) {
    while (bits == 0 && ++w < words.size()) bits = words[w];
    if (bits == 0) break;  // the end of the pass (the count says it cannot come first)
    const uint64_t page = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
    bits &= bits - 1;
    cost += src_ram_.token(page) == 0 ? kZeroPageBytes : ram_.page_ + kPageHeaderBytes;
    batch_.push_back(page);
  }
}

// Multifd's flush and sync (vmm/multifd.h): at the end of a pass, and
// before a dirty sync that follows sends. Without multifd: nothing.
bool MigrationThread::sync_multifd() {
  if (!ram_.multifd_) return true;
  const uint64_t before = it_.ram_bytes;
  const bool ok = ram_.multifd_->flush_and_sync(false, it_.ram_bytes);
  window_bytes_ += it_.ram_bytes - before;
  return ok;
}

// The rate RAM's pages can leave at: the link, or the streams' caps
// (one stream, or the multifd channels) when they are lower.
double MigrationThread::ram_pace() const {
  const auto& link = ctx_.link;
  const double streams = ram_.multifd_ ? cfg_.multifd_channels : 1.0;
  return std::min(link.bandwidth(now(), false), streams * link.stream_cap());
}

// The pass's unsent pages go back to the dirty log, for the stop-copy.
void MigrationThread::hand_back_unsent() {
  auto& words = pass_.words;
  for (size_t w = cursor_; w < words.size() && pass_.count > 0; ++w) {
    for (uint64_t bits = words[w]; bits != 0; bits &= bits - 1, --pass_.count)
      src_ram_.mark_dirty(w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits)));
    words[w] = 0;
  }
  cursor_ = 0;
}

// migration_update_counters: at the end of each 100 ms window.
void MigrationThread::update_counters() {
  const double spent = now() - window_start_;
  bandwidth_ = static_cast<double>(window_bytes_) / spent;
  threshold_ = bandwidth_ * cfg_.downtime_limit_s;
  window_start_ = now();
  window_bytes_ = 0;
}

// Ends the iteration under way (at a dirty sync, or at the decision).
void MigrationThread::close_iteration(uint64_t pending, bool synced) {
  auto& r = ctx_.result;
  it_.duration_s = now() - it_.start_s;
  it_.bandwidth = it_.duration_s > 0
                      ? static_cast<double>(it_.ram_bytes + it_.device_bytes) / it_.duration_s
                      : bandwidth_;
  it_.remaining_bytes = pending;
  it_.expected_downtime_s = bandwidth_ > 0 ? expected_downtime_s(pending, bandwidth_)
                                           : std::numeric_limits<double>::infinity();
  if (ctx_.recorder && synced) ctx_.recorder->sync(now(), ram_.last_dirty_, pending);
  r.iterations.push_back(it_);
  r.ram_bytes += it_.ram_bytes;
  r.device_bytes += it_.device_bytes;
  const uint64_t sent = it_.ram_bytes + it_.device_bytes;
  IterationResult next;
  next.index = it_.index + 1;
  next.start_s = now();
  if (synced && cfg_.auto_converge) {  // QEMU: migration_trigger_throttle at each sync
    bool raised = false;
    throttle_ =
        auto_converge_step(throttle_, static_cast<double>(synced_new_) * ctx_.scenario.vm.page_size,
                           static_cast<double>(sent), &raised);
    if (raised) src_vm_.set_throttle(throttle_.throttle);
  }
  next.throttle = throttle_.throttle;
  next.ram_dirty_pages = synced ? pass_.count : 0;  // the pass the sync began
  it_ = next;
}

Switchover MigrationThread::run(double t0, std::string& why) {
  auto& link = ctx_.link;
  const auto& rate = ctx_.scenario.link.rate_limit;
  // max-bandwidth / 10 per window; no limit set: the link's speed is the limit.
  const double window_budget =
      rate ? *rate * kBufferDelay : std::numeric_limits<double>::infinity();
  // The first pass: the dirty log setup marked (every touched page).
  ram_.collect_dirty(pass_);
  cursor_ = 0;
  it_.ram_dirty_pages = pass_.count;
  zero_left_ = ram_.initial_zero_pages_;
  ram_.initial_zero_pages_ = 0;
  dev_pre_ = device_.precopy_bytes();
  // switchover-ack: needed by a device with pre-copy data (QEMU's
  // vfio_switchover_ack_needed); the destination acks once the initial
  // bytes have reached it (the source's marker, then the ack back).
  const bool ack_needed = cfg_.switchover_ack && dev_pre_ > 0;
  double ack_at = ack_needed ? std::numeric_limits<double>::infinity() : 0;
  if (ack_needed && device_.initial_bytes() == 0) ack_at = now() + 2 * ctx_.scenario.link.latency_s;
  it_.start_s = now();
  link.latency();
  window_start_ = now();
  uint32_t syncs = 0;
  // The stall guard: the lowest pending seen and when it was reached.
  uint64_t lowest_pending = std::numeric_limits<uint64_t>::max();
  double lowest_at = now();
  for (;;) {
    if (link.crashed()) {
      ctx_.fail(link.failure());
      return Switchover::kNone;
    }
    // migration_iteration_run: estimate, then exact under the threshold.
    Pending p{ram_left(), dev_pre_};
    bool synced = false;
    if (p.total() < threshold_) {
      if (!sync_multifd()) return Switchover::kNone;
      p = exact();
      synced = true;
    }
    const bool can_switchover = now() >= ack_at;
    const bool fits = p.total() == 0 || static_cast<double>(p.total()) < threshold_;
    if (fits && can_switchover) {
      close_iteration(p.total(), synced);
      hand_back_unsent();
      return Switchover::kConverged;
    }
    if (p.total() < lowest_pending) {
      lowest_pending = p.total();
      lowest_at = now();
    }
    const bool stalled = cfg_.stall_timeout_s > 0 && now() - lowest_at >= cfg_.stall_timeout_s;
    const bool out_of_time = (cfg_.timeout_s > 0 && now() - t0 >= cfg_.timeout_s) || stalled;
    if (synced || out_of_time) {
      if (!synced) {
        if (!sync_multifd()) return Switchover::kNone;
        p = exact();
      }
      close_iteration(p.total(), true);
      ++syncs;
      const bool out_of_rounds = cfg_.max_iterations > 0 && syncs >= cfg_.max_iterations;
      if (out_of_time || out_of_rounds) {
        const auto& last = ctx_.result.iterations.back();
        const bool within = static_cast<double>(last.remaining_bytes) < threshold_;
        if (cfg_.on_no_convergence == OnNoConvergence::kForce) {
          hand_back_unsent();
          return Switchover::kForced;
        }
        why = std::string("did not converge: ") +
              (stalled ? "no progress for " + format_duration(cfg_.stall_timeout_s) +
                             " (stall_timeout: no pending estimate fell below " +
                             std::to_string(lowest_pending) + " bytes, its low at " +
                             format_duration(lowest_at - t0) + " into the migration);"
               : out_of_time ? "the timeout (" + format_duration(cfg_.timeout_s) + ") passed;"
                             : "after " + std::to_string(syncs) + " dirty syncs;") +
              " the pending at the last dirty sync, " + std::to_string(last.remaining_bytes) +
              " bytes, is " + (within ? "within" : "above") + " the threshold of " +
              std::to_string(static_cast<uint64_t>(threshold_)) + " bytes (" +
              std::to_string(last.expected_downtime_s) + " s expected downtime, limit " +
              std::to_string(cfg_.downtime_limit_s) + " s)" +
              (within ? " but the destination had not acked the switchover (switchover_ack)" : "");
        return Switchover::kCancel;
      }
    }
    // qemu_savevm_state_iterate: RAM, then the device if RAM is done.
    const uint64_t sent_before = window_bytes_;
    const double budget_left = window_budget - static_cast<double>(window_bytes_);
    bool ram_done = ram_left() == 0;
    if (!ram_done) {
      const double cap = std::min(budget_left, ram_pace() * kRamMaxWait);
      if (!ram_iterate(static_cast<uint64_t>(std::max(1.0, cap)))) return Switchover::kNone;
      ram_done = ram_left() == 0;
    }
    // v2: QEMU iterates a device in PRE_COPY whatever its estimate says
    // (vfio_is_active_iterate) and lowers the estimate by what it read,
    // re-querying PRECOPY_INFO only at the exact query
    // (vfio_update_estimated_pending_data): the bytes dirtied meanwhile stay
    // out of the estimate until then. v1 re-reads pending_bytes.
    const bool v1 = ctx_.scenario.device.protocol == "v1";
    if (ram_done && static_cast<double>(window_bytes_) < window_budget && (dev_pre_ > 0 || !v1)) {
      const uint64_t before = it_.device_bytes;
      if (!device_.iterate_chunk(it_, kDeviceReadSize)) return Switchover::kNone;
      const uint64_t read = it_.device_bytes - before;
      window_bytes_ += read;
      dev_pre_ = v1 ? device_.precopy_bytes() : read == 0 ? 0 : dev_pre_ - std::min(dev_pre_, read);
      if (ack_needed && ack_at == std::numeric_limits<double>::infinity() &&
          device_.initial_bytes() == 0)
        ack_at = now() + 2 * ctx_.scenario.link.latency_s;
    }
    // migration_rate_limit: sleep out the window once its budget is spent
    // (or when nothing was left to send), then update the counters.
    const bool idle = window_bytes_ == sent_before;
    if (idle || static_cast<double>(window_bytes_) >= window_budget) {
      double until = window_start_ + kBufferDelay;
      if (idle && ack_at > now() && ack_at < until) until = ack_at;
      wait_s(until - now());
    }
    if (now() + 1e-9 >= window_start_ + kBufferDelay) update_counters();
  }
}

}  // namespace mdevsim::sim::vmm
