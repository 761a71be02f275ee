#include "vmm/migration_driver.h"

#include <algorithm>
#include <limits>

#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/uapi.h"
#include "vmm/convergence.h"
#include "vmm/fault_account.h"
#include "vmm/migration_thread.h"

namespace mdevsim::sim::vmm {

namespace {
using sc_core::sc_time;
// Background push slices: without postcopy-preempt a requested page waits
// at most one slice behind background pages.
constexpr double kPostcopySlice = 0.00025;
constexpr double kPostcopySample = 1e-3;  // the guest's slowdown is sampled this often
}  // namespace

MigrationDriver::MigrationDriver(sc_core::sc_module_name n, const Scenario& s,
                                 RunRecorder* recorder, bool exact, VmmSide src, VmmSide dst,
                                 MigrationObserver& observer, Result& out,
                                 const ClientFactory& make_client)
    : sc_core::sc_module(n),
      result(out),
      s_(s),
      recorder_(recorder),
      src_(src),
      dst_(dst),
      observer_(observer),
      link_("link", s.link, s.faults, s.migration.link_timeout_s, result.faults),
      ctx_(s, link_, result, recorder, exact) {
  link_.recorder = recorder;
  // postcopy-preempt: requested pages get their own channel (QEMU's
  // preempt socket), sharing the link with the main stream.
  if (s.migration.postcopy_preempt && s.migration.mode != MigrationMode::kPrecopy)
    pc_preempt_channel_ = link_.add_channel();
  for (const auto& f : s.faults) {
    FaultResult r;
    r.kind = fault_kind_name(f.kind);
    r.at_s = f.at_s;
    r.duration_s = f.duration_s;
    if (f.kind == FaultKind::kCorrupt)
      r.target = f.target == CorruptTarget::kRam ? "ram" : "device";
    result.faults.push_back(r);
  }
  const bool v1 = s.device.protocol == "v1";
  ram_ = std::make_unique<RamSaver>(ctx_, src.ram, dst.ram, src.frontend, s.vm.page_size,
                                    s.vm.ram_bytes, v1);
  device_ = make_client ? make_client(ctx_) : make_vfio_client(ctx_, *src.frontend, *dst.frontend);
  handlers_ = {ram_.get(), device_.get()};
  SC_THREAD(run);
  SC_THREAD(inject_device_errors);
}

const vfio::ProtocolSpec& MigrationDriver::proto() const {
  return s_.device.protocol_def ? *s_.device.protocol_def : vfio::builtin_protocol_v2();
}

// device_error: at its time, the source device fails, and the next arc it
// is asked to take on the way to the switch fails with EIO (the frontend's
// injected arc failure), leaving it in ERROR. Pre-copy migrations only.
// (The list is a member: this thread may still be waiting when the run
// ends, and SystemC never unwinds a waiting thread's stack.)
void MigrationDriver::inject_device_errors() {
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
    if (ctx_.switching) {
      rec.effect = "came after the source had stopped for the switch";
      continue;
    }
    const auto arc = device_->next_switch_arc();
    device_->fail_next_arc(arc);
    rec.applied = true;
    const bool v1 = s_.device.protocol == "v1";
    const auto& roles = device_->roles();
    rec.effect = v1 ? "the source device fails its next state change (" +
                          std::to_string(arc.first) + " -> " + std::to_string(arc.second) + ")"
                    : "the source device fails its next arc (" + roles.name_of(arc.first) + " -> " +
                          roles.name_of(arc.second) + ")";
    return;  // a failed device fails once
  }
}

bool MigrationDriver::setup() {
  const auto span = RunRecorder::setup_scope(recorder_);
  for (SaveHandler* h : handlers_)
    if (!h->setup()) return false;
  return true;
}

// One pre-copy iteration. Returns false when the migration must stop, or
// when the timeout cut it short (link_.timed_out(); `it` then holds what
// was sent).
bool MigrationDriver::iterate(IterationResult& it) {
  const auto span = RunRecorder::iteration_scope(recorder_, it.index);
  it.start_s = now();
  for (SaveHandler* h : handlers_) h->pending_estimate(it);
  link_.latency();
  bool sent = true;
  for (SaveHandler* h : handlers_) {
    if (!h->iterate(it)) {
      sent = false;
      break;
    }
  }
  if (!sent && !link_.timed_out()) return false;  // reason set where it failed
  it.duration_s = now() - it.start_s;
  // An iteration that moved nothing measured no bandwidth (nothing was
  // queued, not a slow link): the link's usable rate stands in. Without it a
  // pass dragged down by the zero-page scan, followed by empty ones, made
  // the estimate 0 and the loop spin through microsecond iterations.
  const uint64_t moved = it.ram_bytes + it.device_bytes;
  it.bandwidth = it.duration_s > 0 && moved > 0 ? static_cast<double>(moved) / it.duration_s
                                                : link_.bandwidth(now(), true);
  return sent;
}

bool MigrationDriver::switchover(bool forced) {
  ctx_.switching = true;
  const double t_stop = now();
  src_.vm.set_running(false);
  if (recorder_) recorder_->vm_stopped(t_stop);
  StopCopyResult sc;
  if (!device_->stop_source(false)) return false;
  wait_s(s_.device.save_fixed_cost_s);  // the vendor driver's one-off stop-copy cost
  sc.device_stop_s = now() - t_stop;
  const double t_xfer = now();
  link_.latency();
  for (SaveHandler* h : handlers_)
    if (!h->complete(sc)) return false;
  sc.transfer_s = now() - t_xfer;
  // The destination applies the state, then runs.
  const double t_resume = now();
  wait_s(static_cast<double>(sc.device_bytes) / s_.device.resume_bandwidth);
  if (link_.crashed()) return ctx_.fail(link_.failure());
  const long r = device_->start_destination(false);
  if (r < 0)
    return ctx_.fail(ctx_.device_corrupted ? ctx_.refused_stream(r)
                                           : "the destination device rejected the device state (" +
                                                 vfio::errno_name(static_cast<int>(-r)) + ")");
  ctx_.switched = true;
  switched_at_ = now();
  sc.resume_s = now() - t_resume;
  // The guest's CPU state moves with the VM: the guest driver and vCPUs
  // carry on from where the source stopped. QEMU stops throttling when the
  // migration completes (both sides, so the reference run continues
  // unthrottled too).
  dst_.vm.load_cpu_state_from(src_.vm);
  dst_.vm.set_throttle(0);
  src_.vm.set_throttle(0);
  dst_.vm.set_running(true);
  result.downtime_s = now() - t_stop;
  if (recorder_) recorder_->switchover(t_stop, t_resume, result.downtime_s);
  result.stop_copy = sc;
  result.ram_bytes += sc.ram_bytes;
  result.device_bytes += sc.device_bytes;
  result.converged = !forced;
  result.switchover = forced ? "forced" : "converged";
  // Source cleanup after downtime (QEMU defers STOP_COPY -> STOP).
  device_->end_source_session();
  return true;
}

uint64_t MigrationDriver::device_missing() const {
  if (pc_record_bytes_ == 0) return 0;
  const uint64_t pages = (device_->bytes_delivered() - pc_delivered_mark_) / pc_record_bytes_;
  return pages < pc_vram_missing_ ? pc_vram_missing_ - pages : 0;
}

void MigrationDriver::note_device_missing(uint64_t missing) {
  pc_vram_missing_ = missing;
  pc_delivered_mark_ = device_->bytes_delivered();
}

// Switch for post-copy (and hybrid after its pre-copy rounds). The VM stops;
// the device either enters its serving state (device pages post-copied) or
// is stopped and copied whole (RAM-only post-copy); RAM pages dirtied since
// they were sent become missing at the destination; the destination runs.
bool MigrationDriver::switchover_postcopy() {
  const bool device_pages = proto().postcopy->device_pages;
  ctx_.switching = true;
  const double t_stop = now();
  src_.vm.set_running(false);
  if (recorder_) recorder_->vm_stopped(t_stop);
  StopCopyResult sc;
  if (!device_->stop_source(device_pages)) return false;
  wait_s(s_.device.save_fixed_cost_s);  // as in the pre-copy switch
  sc.device_stop_s = now() - t_stop;
  const double t_xfer = now();
  link_.latency();
  // RAM: the pages dirty since they were sent (all touched ones when nothing
  // was pre-copied) stay at the source; the destination gets their list.
  if (!ram_->switch_to_postcopy(sc)) return false;
  if (!device_->send_all(sc.device_bytes)) return false;
  sc.transfer_s = now() - t_xfer;
  const double t_resume = now();
  wait_s(static_cast<double>(sc.device_bytes) / s_.device.resume_bandwidth);
  if (link_.crashed()) return ctx_.fail(link_.failure());
  ram_->mark_missing_at_destination();
  const long r = device_->start_destination(device_pages);
  if (r < 0)
    return ctx_.fail(ctx_.device_corrupted
                         ? ctx_.refused_stream(r)
                         : "the destination device rejected the switch package (" +
                               vfio::errno_name(static_cast<int>(-r)) + ")");
  if (device_pages) {
    // The destination says what it lacks and how a page arrives; with an
    // eventfd protocol it also hands out the fault eventfd.
    VfioClient::PostcopyAttach a;
    if (!device_->attach_postcopy(proto().postcopy->fault_delivery == "eventfd", a))
      return ctx_.fail("the destination refused VFIO_MIG_POSTCOPY_FAULTS");
    pc_record_bytes_ = a.record_bytes;
    note_device_missing(a.missing_pages);
    pc_early_faults_ = std::move(a.faults);
  }
  sc.resume_s = now() - t_resume;
  ctx_.switched = true;
  switched_at_ = now();
  observer_.postcopy_switched();
  dst_.vm.load_cpu_state_from(src_.vm);
  dst_.vm.set_throttle(0);
  dst_.vm.set_running(true);
  src_.vm.set_throttle(0);
  result.downtime_s = now() - t_stop;
  if (recorder_) recorder_->switchover(t_stop, t_resume, result.downtime_s);
  result.stop_copy = sc;
  result.ram_bytes += sc.ram_bytes;
  result.device_bytes += sc.device_bytes;
  result.switchover = "postcopy";  // converged stays false: the rule did not fire
  pc_t_stop_ = t_stop;
  pc_missing_vram_at_switch_ = device_missing();
  pc_missing_ram_at_switch_ = dst_.ram.missing_count();
  return true;
}

// Post-copy in QEMU's shape. This thread is the source's main stream: it
// sends requested pages as soon as their request has arrived, ahead of the
// next background slice, and background slices otherwise; it never waits
// for a fault's round trip. The fault service (destination) reads faults and
// sends requests on the return path (fault delivery, then one link latency);
// every page, requested or pushed, is placed one latency after it left. With
// postcopy-preempt, requested pages travel on their own channel instead.
// Returns false when the link failed: the VM is then split across hosts.
bool MigrationDriver::run_postcopy() {
  const double t0 = now();
  const uint32_t bg_flags = VFIO_MIG_POSTCOPY_REQUEST_BACKGROUND |
                            (s_.migration.hot_first ? VFIO_MIG_POSTCOPY_REQUEST_HOT_FIRST : 0);
  const bool preempt = pc_preempt_channel_ != 0;
  auto& main = link_.channel(0);
  auto& dram = dst_.ram;
  sc_core::sc_spawn([this] { pc_timer(); }, "postcopy_wire");
  sc_core::sc_spawn([this] { pc_fault_service(); }, "postcopy_faults");
  sc_core::sc_spawn([this] { pc_sampler(); }, "postcopy_sampler");
  if (preempt) sc_core::sc_spawn([this] { pc_preempt_sender(); }, "postcopy_preempt");
  bool idle_push = false;
  const bool ok = [&] {
    while (device_missing() > 0 || dram.missing_count() > 0) {
      if (pc_failed_) return false;
      if (link_.crashed()) return ctx_.fail(link_.failure());
      if (!preempt && pc_requested_pending()) {
        if (!pc_send_requested(main)) return false;
        continue;
      }
      const double run_after_at = t0 + s_.migration.run_after_s;
      const bool background = s_.migration.background_push || now() > run_after_at;
      const uint64_t device_unsent = pc_device_unsent();
      if (background && (device_unsent > 0 || ram_->unsent() > 0) && !idle_push) {
        const auto span = RunRecorder::link_scope(recorder_, "background push");
        const uint64_t sent_before = pc_bytes_;
        // A short slice at link speed, split between device and RAM pages
        // while both are unsent.
        const double budget = link_.bandwidth(now(), false) * kPostcopySlice;
        const double share = device_unsent > 0 && ram_->unsent() > 0 ? budget / 2 : budget;
        if (device_unsent > 0) {
          uint64_t q = 0;
          const auto pages = static_cast<uint64_t>(share / static_cast<double>(pc_record_bytes_));
          device_->request_pages(0, std::max<uint64_t>(1, pages), bg_flags, q);
          if (!pc_send_device(main)) return false;
        }
        if (ram_->unsent() > 0) {
          const auto pages = ram_->next_background(
              std::max<uint64_t>(1, static_cast<uint64_t>(share / ram_->wire_page_bytes())));
          if (!pc_send_ram(pages, main)) return false;
        }
        // A slice that found nothing to send (the source had nothing the
        // count said it had) sleeps once instead of spinning in place.
        idle_push = pc_bytes_ == sent_before;
        continue;
      }
      idle_push = false;
      // Nothing to send now: sleep until a request arrives, pages land, or
      // (push held back) the push may start; at most 1 ms, to notice a crash.
      double sleep = 1e-3;
      if (!background) sleep = std::min(sleep, std::max(1e-6, run_after_at - now()));
      sc_core::wait(sc_time::from_seconds(sleep), pc_requests_arrived_ | pc_arrived_);
    }
    return true;
  }();
  pc_stop_threads();
  return ok && !pc_failed_;
}

void MigrationDriver::pc_stop_threads() {
  pc_done_ = true;
  pc_timed_.clear();  // pages in flight are lost with the link; late requests find nothing
  pc_done_event_.notify(sc_core::SC_ZERO_TIME);
}

void MigrationDriver::pc_at(double delay_s, std::function<void()> action) {
  const sc_time at = sc_core::sc_time_stamp() + sc_time::from_seconds(std::max(0.0, delay_s));
  pc_timed_.emplace(std::make_pair(at, pc_timed_seq_++), std::move(action));
  pc_timed_added_.notify(sc_core::SC_ZERO_TIME);
}

void MigrationDriver::pc_timer() {
  while (!pc_done_) {
    if (pc_timed_.empty()) {
      sc_core::wait(pc_timed_added_ | pc_done_event_);
      continue;
    }
    const auto first = pc_timed_.begin();
    const sc_time at = first->first.first;
    if (at > sc_core::sc_time_stamp()) {
      sc_core::wait(at - sc_core::sc_time_stamp(), pc_timed_added_ | pc_done_event_);
      continue;
    }
    auto action = std::move(first->second);
    pc_timed_.erase(first);
    action();
  }
}

// The destination's fault thread (QEMU's postcopy fault thread, asleep in
// poll(2) on the userfaultfd): wakes on the device's fault eventfd (or polls
// FAULTS every poll interval) and on RAM faults, and sends one request for
// what it found. The request reaches the source after the fault's delivery
// and one link latency; meanwhile this thread reads the next faults.
void MigrationDriver::pc_fault_service() {
  const auto& rules = *proto().postcopy;
  const bool eventfd = rules.device_pages && device_->fault_wake() != nullptr;
  const uint32_t prefetch = s_.migration.prefetch_pages;
  auto& dram = dst_.ram;
  double next_poll = now();
  bool first = true;
  while (!pc_done_) {
    // The fault lists live only in this block: a SystemC thread still
    // asleep when the simulation ends is never unwound, so anything it holds
    // across a wait() would leak (LeakSanitizer found the RAM list).
    {
      std::vector<uint64_t> vfaults = std::exchange(pc_early_faults_, {});
      if (rules.device_pages) {
        bool ask = !eventfd && now() >= next_poll;
        if (eventfd) {
          ask = first;
          if (device_->fault_signalled()) {  // read(2) of the eventfd zeroes it
            device_->clear_fault_signal();
            ask = true;
          }
        }
        if (ask) {
          uint64_t missing = device_missing();  // kept when the call fails
          const auto more = device_->read_faults(&missing);
          note_device_missing(missing);
          vfaults.insert(vfaults.end(), more.begin(), more.end());
          if (!eventfd) next_poll = now() + rules.poll_interval_s;
        }
      }
      first = false;
      const auto rfaults = dram.take_faults();
      if (!vfaults.empty() || !rfaults.empty()) {
        // A polled device fault is found when FAULTS is called, with no
        // delivery delay of its own.
        const double delivery = eventfd || vfaults.empty() ? rules.fault_latency_s : 0;
        auto ram_pages = ram_->fault_pages(rfaults, prefetch);
        pc_at(delivery + link_.latency_s(),
              [this, prefetch, v = std::move(vfaults), r = std::move(ram_pages)] {
                // At the source: the device queues the pages (ahead of any
                // later background request), RAM pages wait for the sender.
                for (uint64_t p : v) {
                  uint64_t q = 0;
                  device_->request_pages(p, 1 + prefetch, 0, q);
                  pc_requested_device_pages_ += q;
                }
                ram_->queue_requested(r);
                pc_requests_arrived_.notify(sc_core::SC_ZERO_TIME);
              });
      }
    }
    if (!rules.device_pages) {  // RAM-only post-copy: only the userfaultfd
      sc_core::wait(dram.fault_event() | pc_done_event_);
    } else if (!eventfd) {
      sc_core::wait(sc_time::from_seconds(std::max(1e-6, next_poll - now())),
                    dram.fault_event() | pc_done_event_);
    } else if (!device_
                    ->fault_signalled()) {  // level-triggered: a fault met meanwhile wakes at once
      sc_core::wait(*device_->fault_wake() | dram.fault_event() | pc_done_event_);
    }
  }
}

// postcopy-preempt: requested pages leave on their own channel as soon as
// their request arrives, beside (not behind) the background stream.
void MigrationDriver::pc_preempt_sender() {
  auto& channel = link_.channel(pc_preempt_channel_);
  while (!pc_done_) {
    if (!pc_requested_pending()) {
      sc_core::wait(pc_requests_arrived_ | pc_done_event_);
      continue;
    }
    if (!pc_send_requested(channel)) {
      pc_failed_ = true;
      pc_arrived_.notify(sc_core::SC_ZERO_TIME);  // wakes the main stream to end
      return;
    }
  }
}

void MigrationDriver::pc_sampler() {
  while (!pc_done_) {
    observer_.postcopy_sample();
    if (recorder_)
      recorder_->counter("missing pages", now(),
                         static_cast<double>(device_missing() + dst_.ram.missing_count()));
    sc_core::wait(sc_time::from_seconds(kPostcopySample), pc_done_event_);
  }
}

bool MigrationDriver::pc_requested_pending() const {
  return pc_requested_device_pages_ > 0 || ram_->has_requested();
}

uint64_t MigrationDriver::pc_device_unsent() const {
  if (pc_record_bytes_ == 0) return 0;
  const uint64_t in_flight = pc_device_in_flight_ / pc_record_bytes_;
  const uint64_t missing = device_missing();
  return missing > in_flight ? missing - in_flight : 0;
}

bool MigrationDriver::pc_send_requested(net::Link::Channel& channel) {
  const auto span = RunRecorder::link_scope(recorder_, "page requests");
  if (pc_requested_device_pages_ > 0 && !pc_send_device(channel)) return false;
  const auto pages = ram_->take_requested();
  return pages.empty() || pc_send_ram(pages, channel);
}

// Everything the source device has queued leaves now (read from its save
// fd) and is written to the destination's resume fd one latency after its
// last byte left.
bool MigrationDriver::pc_send_device(net::Link::Channel& channel) {
  std::vector<uint8_t> records;
  if (!device_->read_queued(records)) return false;
  pc_requested_device_pages_ = 0;  // the queue is empty now
  if (records.empty()) return true;
  const uint64_t n = records.size();
  pc_device_in_flight_ += n;
  if (!channel.transfer(n, false, s_.device.save_bandwidth)) return ctx_.fail(link_.failure());
  pc_bytes_ += n;
  pc_device_bytes_ += n;
  pc_at(link_.latency_s(), [this, r = std::move(records)] {
    pc_device_in_flight_ -= r.size();
    if (!device_->write_resume(r)) pc_failed_ = true;
    pc_arrived_.notify(sc_core::SC_ZERO_TIME);
  });
  return true;
}

bool MigrationDriver::pc_send_ram(const std::vector<uint64_t>& pages, net::Link::Channel& channel) {
  RamSaver::Parcel parcel;
  if (!ram_->push(pages, channel, pc_bytes_, parcel)) return ctx_.fail(link_.failure());
  if (parcel.empty()) return true;
  pc_at(link_.latency_s(), [this, p = std::move(parcel)] {
    ram_->place(p);
    pc_arrived_.notify(sc_core::SC_ZERO_TIME);
  });
  return true;
}

// End of post-copy: every page is at the destination. The source stops
// serving; the destination leaves its running-while-resuming state.
void MigrationDriver::finish_postcopy() {
  const auto& rules = *proto().postcopy;
  const double t_end = now();
  const bool refused = !device_->finish_postcopy(rules.device_pages);
  PostcopyFigures f;
  f.device_pages = rules.device_pages;
  f.fault_delivery = rules.fault_delivery;
  f.t_stop = pc_t_stop_;
  f.t_end = t_end;
  f.missing_vram_at_switch = pc_missing_vram_at_switch_;
  f.missing_ram_at_switch = pc_missing_ram_at_switch_;
  f.ram_pages_fetched = ram_->fetched_pages();
  f.bytes = pc_bytes_;
  f.device_bytes = pc_device_bytes_;
  f.device_record_bytes = pc_record_bytes_;  // 0: no device pages post-copied
  f.destination_refused = refused;
  observer_.postcopy_finished(f);
  result.ram_bytes += pc_bytes_ - pc_device_bytes_;
  result.device_bytes += pc_device_bytes_;
}

// Source back to running, destination torn down: nothing lost.
void MigrationDriver::cancel(const std::string& why, const std::string& outcome) {
  result.outcome = outcome;
  result.reason = why;
  if (link_.source_crashed()) {  // the VM ran there: gone with it, the destination never ran
    result.outcome = "vm_lost";
    result.reason = why + " before the switch: the VM was running there and is lost with it";
    device_->reset_destination();
    return;
  }
  const uint64_t before = observer_.source_state_hash();
  const long r = device_->run_source_again();
  bool reset = false;
  if (r < 0) {
    device_->reset_source();
    reset = true;
  }
  if (!link_.dest_crashed())
    device_->reset_destination();  // nothing to tear down on a crashed host
  src_.vm.set_throttle(0);
  src_.vm.set_running(true);
  // Nothing lost: the source runs again with the state it had (a reset,
  // needed only after a device error, keeps VRAM but not the registers).
  const bool running = observer_.source_running() && device_->source_running();
  result.verification.source_intact = running && (reset || observer_.source_state_hash() == before);
  result.verification.source_reset = reset;
  if (reset) {  // a device that had to be reset failed: not a clean cancel
    result.outcome = "failed";
    result.reason +=
        "; the source device was reset (VFIO_DEVICE_RESET: registers and engines "
        "to their reset values, VRAM kept) and runs again";
  }
}

void MigrationDriver::end_postcopy_lost(double t0) {
  // What the destination never got: lost with the VM.
  const uint64_t vram_unreceived = pc_unreceived_vram_, ram_unreceived = pc_unreceived_ram_;
  (*result.postcopy)["vram_pages_never_received"] = vram_unreceived;
  (*result.postcopy)["ram_pages_never_received"] = ram_unreceived;
  result.outcome = "vm_lost";
  result.reason = link_.dest_crashed()
                      ? "post-copy failed: " + link_.failure() +
                            ": the VM was running there and is lost with it (" +
                            std::to_string(vram_unreceived) + " VRAM and " +
                            std::to_string(ram_unreceived) + " RAM pages had not left the source)"
                      : "post-copy failed: " +
                            (ctx_.reason.empty() ? std::string("the link failed") : ctx_.reason) +
                            " while the VM's state was split across the hosts (the "
                            "destination runs without " +
                            std::to_string(device_missing()) + " VRAM and " +
                            std::to_string(dst_.ram.missing_count()) + " RAM pages)";
  result.verification.passed = false;
  finish(t0);
}

void MigrationDriver::run() {
  const double t0 = s_.migration.start_at_s;
  wait_s(t0);
  if (!setup()) {
    cancel(ctx_.reason, ctx_.fail_outcome);
    finish(t0);
    return;
  }
  uint32_t iteration = 0;
  AutoConverge throttle;
  bool forced = false;
  ConvergencePolicy policy;
  policy.downtime_limit_s = s_.migration.downtime_limit_s;
  policy.max_iterations = s_.migration.max_iterations;
  policy.timeout_s = s_.migration.timeout_s;
  policy.cancel_on_no_convergence = s_.migration.on_no_convergence == OnNoConvergence::kCancel;
  policy.hybrid = s_.migration.mode == MigrationMode::kHybrid;
  policy.postcopy_after_iterations = s_.migration.postcopy_after_iterations;
  policy.postcopy_after_s = s_.migration.postcopy_after_s;
  bool to_postcopy = s_.migration.mode == MigrationMode::kPostcopy;
  bool qemu_decided = false;
  if (s_.migration.loop == MigrationLoop::kQemu) {  // QEMU's migration thread instead of passes
    std::string why;
    const auto d = MigrationThread(ctx_, *ram_, *device_, src_.ram, src_.vm).run(t0, why);
    if (d == Switchover::kNone || d == Switchover::kCancel) {
      cancel(d == Switchover::kNone ? ctx_.reason : why,
             d == Switchover::kNone ? ctx_.fail_outcome : "cancelled");
      finish(t0);
      return;
    }
    forced = d == Switchover::kForced;
    qemu_decided = true;
  }
  if (s_.migration.timeout_s > 0 && !qemu_decided) link_.set_deadline(t0 + s_.migration.timeout_s);
  while (!to_postcopy && !qemu_decided) {
    IterationResult it;
    it.index = iteration;
    it.throttle = throttle.throttle;
    if (!iterate(it) && !link_.timed_out()) {
      cancel(ctx_.reason, ctx_.fail_outcome);
      finish(t0);
      return;
    }
    // QEMU's rule: remaining (RAM dirty + device stop-copy size) over the
    // bandwidth measured in this iteration, against the downtime limit.
    uint64_t remaining = 0;
    for (SaveHandler* h : handlers_) remaining += h->pending_exact();
    it.remaining_bytes = remaining;
    it.expected_downtime_s = expected_downtime_s(remaining, it.bandwidth);
    if (recorder_)
      recorder_->sync(now(), ram_->dirty_pages_at_last_sync(), device_->dirty_bytes_hint(it),
                      remaining);
    result.iterations.push_back(it);
    result.ram_bytes += it.ram_bytes;
    result.device_bytes += it.device_bytes;
    ++iteration;
    IterationMeasure m;
    m.remaining_bytes = remaining;
    m.bandwidth = it.bandwidth;
    m.iterations_done = iteration;
    m.elapsed_s = now() - t0;
    m.timed_out = link_.timed_out();
    const auto decision = decide_switchover(policy, m);
    if (decision.action == Switchover::kCancel) {
      const std::string when = link_.timed_out()
                                   ? "the timeout (" + format_duration(s_.migration.timeout_s) +
                                         ") ended iteration " + std::to_string(it.index) + " early;"
                                   : "after " + std::to_string(iteration) +
                                         (iteration == 1 ? " iteration" : " iterations");
      cancel("did not converge: " + when + " the expected downtime is " +
             std::to_string(it.expected_downtime_s) + " s, above the " +
             std::to_string(s_.migration.downtime_limit_s) + " s limit");
      finish(t0);
      return;
    }
    forced = decision.action == Switchover::kForced;
    if (forced || decision.action == Switchover::kConverged) break;
    if (decision.action == Switchover::kPostcopy) {
      to_postcopy = true;
      break;
    }
    if (s_.migration.auto_converge) {
      bool raised = false;
      throttle = auto_converge_step(throttle,
                                    static_cast<double>(src_.ram.dirty_count()) * s_.vm.page_size,
                                    static_cast<double>(it.ram_bytes + it.device_bytes), &raised);
      if (raised) src_.vm.set_throttle(throttle.throttle);
    }
  }
  link_.set_deadline(0);  // the switch and what follows run to the end
  if (to_postcopy) {
    if (!switchover_postcopy()) {  // nothing runs at the destination yet: safe to cancel
      cancel(ctx_.reason, ctx_.fail_outcome);
      finish(t0);
      return;
    }
    const bool ok = run_postcopy();
    pc_unreceived_vram_ = device_missing();
    pc_unreceived_ram_ = dst_.ram.missing_count();
    finish_postcopy();
    if (!ok) return end_postcopy_lost(t0);
    result.outcome = result.verification.passed ? "completed" : "failed";
    if (!result.verification.passed)
      result.reason = "verification failed " + describe_verification_failure(result.verification);
    finish(t0);
    return;
  }
  if (!switchover(forced)) {
    cancel(ctx_.reason, ctx_.fail_outcome);
    finish(t0);
    return;
  }
  result.outcome = "completed";
  const double t_end = now();
  observer_.precopy_switched();
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

void MigrationDriver::finish(double t0, double t_end) {
  result.total_time_s = (t_end < 0 ? now() : t_end) - t0;
  ended_ = true;
  account_faults(s_.faults, result.faults, link_, t0, t0 + result.total_time_s,
                 ctx_.switched ? switched_at_ : std::numeric_limits<double>::infinity(),
                 device_->failed());
  if (recorder_) recorder_->finish(now());
  device_->add_abi_counts(result);
  sc_core::sc_stop();
}

}  // namespace mdevsim::sim::vmm
