// The migration network of migration.cpp (bandwidth, latency, an optional
// migration rate limit lifted at switchover, as QEMU does) and the scheduled
// faults: those that act on the link (down, degraded, a host crashing), the
// RAM wire checksum, the arc a failed device fails, and the result's account
// of every fault. Private to the driver; not a public header.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/mig_fsm.h"

namespace mdevsim::sim::detail {

inline double now() { return sc_core::sc_time_stamp().to_seconds(); }
// At least one time-resolution step: a positive wait shorter than that would
// round to a delta cycle, and a loop waiting for a time a few ulps ahead of
// now() (a fault's end) would spin without simulated time advancing.
inline void wait_s(double s) {
  if (s > 0)
    sc_core::wait(std::max(sc_core::sc_time::from_seconds(s), sc_core::sc_get_time_resolution()));
}

class Link {
 public:
  static constexpr double kSlice = 0.01;  // transfers advance in slices of at most 10 ms

  // `records` (one per scenario fault, same order) collects the time each
  // link_down cost.
  Link(const LinkSection& l, const std::vector<Fault>& faults, double link_timeout,
       std::vector<FaultResult>& records)
      : cfg_(l), link_timeout_(link_timeout), records_(records) {
    for (size_t i = 0; i < faults.size(); ++i) {
      const auto& f = faults[i];
      if (f.kind == FaultKind::kLinkDown || f.kind == FaultKind::kDegrade)
        faults_.push_back({f, i});
      if ((f.kind == FaultKind::kDestCrash || f.kind == FaultKind::kSourceCrash) &&
          f.at_s < crash_at_) {
        crash_at_ = f.at_s;
        crash_index_ = i;
        crash_kind_ = f.kind;
      }
    }
  }

  // Moves `bytes` (waits their transfer time). False: the link stayed down
  // longer than the link timeout, a host crashed (crashed()), or a pre-copy
  // (`limited`) transfer reached the migration's deadline (timed_out(); the
  // bytes were not all moved).
  bool transfer(uint64_t bytes, bool limited) {
    double remaining = static_cast<double>(bytes);
    while (remaining > 0) {
      const double t = now();
      if (t >= crash_at_ || (limited && deadline_ > 0 && t >= deadline_)) {
        timed_out_ = t < crash_at_;
        moved_ = bytes - static_cast<uint64_t>(remaining);
        if (recorder) recorder->link_progress(t, 0);
        return false;
      }
      if (recorder) recorder->link_progress(t, remaining);
      if (const Timed* down = active(t, FaultKind::kLinkDown)) {
        const Fault& f = down->fault;
        if (t >= f.at_s + link_timeout_) return false;
        const double until = std::min({f.at_s + f.duration_s, f.at_s + link_timeout_, crash_at_});
        wait_s(until - t);
        records_[down->index].lost_s += until - t;
        continue;
      }
      const double bw = bandwidth(t, limited);
      double dt = std::min(remaining / bw, kSlice);
      for (const auto& [f, i] : faults_)  // stop at the next fault boundary
        for (double edge : {f.at_s, f.at_s + f.duration_s})
          if (edge > t && edge < t + dt) dt = edge - t;
      if (crash_at_ > t && crash_at_ < t + dt) dt = crash_at_ - t;
      if (limited && deadline_ > t && deadline_ < t + dt) dt = deadline_ - t;
      wait_s(dt);
      remaining -= dt * bw;
      if (remaining < 1e-6) remaining = 0;
    }
    if (recorder) recorder->link_progress(now(), 0);
    moved_ = bytes;
    return true;
  }

  void latency() { wait_s(cfg_.latency_s); }

  // Pre-copy's time limit (migration.timeout): no pre-copy transfer runs past
  // it, so a link too slow for even one pass still ends on time. 0: none.
  void set_deadline(double t) {
    deadline_ = t;
    timed_out_ = false;
  }
  bool timed_out() const { return timed_out_; }
  uint64_t moved() const { return moved_; }  // bytes of the last transfer that arrived
  RunRecorder* recorder = nullptr;           // link spans and bytes in flight (null: none)

  // A host has crashed by now (the first crash fault ends the migration).
  bool crashed() const { return now() >= crash_at_; }
  bool dest_crashed() const { return crashed() && crash_kind_ == FaultKind::kDestCrash; }
  bool source_crashed() const { return crashed() && crash_kind_ == FaultKind::kSourceCrash; }
  size_t crash_index() const { return crash_index_; }
  // Why the last transfer failed, for the result's reason.
  std::string failure() const {
    if (crashed())
      return std::string(crash_kind_ == FaultKind::kDestCrash ? "the destination" : "the source") +
             " host crashed at " + format_duration(crash_at_);
    return "the link was down longer than the link timeout";
  }

  double bandwidth(double t, bool limited) const {
    double bw = cfg_.bandwidth;
    if (const Timed* d = active(t, FaultKind::kDegrade)) bw = std::min(bw, d->fault.bandwidth);
    if (limited && cfg_.rate_limit) bw = std::min(bw, *cfg_.rate_limit);
    return bw;
  }

 private:
  struct Timed {
    Fault fault;
    size_t index;  // in the scenario's list
  };
  const Timed* active(double t, FaultKind k) const {
    for (const auto& f : faults_)
      if (f.fault.kind == k && t >= f.fault.at_s && t < f.fault.at_s + f.fault.duration_s)
        return &f;
    return nullptr;
  }
  LinkSection cfg_;
  double link_timeout_;
  std::vector<FaultResult>& records_;
  std::vector<Timed> faults_;
  double crash_at_ = std::numeric_limits<double>::infinity();
  size_t crash_index_ = 0;
  FaultKind crash_kind_ = FaultKind::kDestCrash;
  double deadline_ = 0;
  bool timed_out_ = false;
  uint64_t moved_ = 0;
};

// Wire integrity of RAM: QEMU sends no checksum for RAM pages; mdevsim's
// simulated wire carries one per slice (8 bytes over its (page, content)
// pairs) so that a `corrupt` fault on RAM is caught before it is applied.
inline constexpr uint64_t kSliceChecksumBytes = 8;
inline uint64_t slice_checksum(const std::vector<std::pair<uint64_t, uint64_t>>& slice) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the pairs
  for (const auto& [p, t] : slice)
    for (uint64_t v : {p, t}) h = (h ^ v) * 0x100000001b3ull;
  return h;
}

// The first arc from the source's state `cur` towards STOP_COPY (v1: the
// next state change of the saving sequence).
inline std::pair<uint32_t, uint32_t> next_switch_arc(bool v1, uint32_t cur,
                                                     const std::vector<std::string>& features) {
  if (v1) return {cur, cur == 1 ? 3u : 2u};  // running -> pre-copy, pre-copy -> stop-and-copy
  const bool p2p = std::find(features.begin(), features.end(), "p2p") != features.end();
  const bool pre = std::find(features.begin(), features.end(), "pre_copy") != features.end();
  using M = vfio::MigState;
  auto arc = [](M a, M b) { return std::make_pair(uint32_t(a), uint32_t(b)); };
  switch (static_cast<M>(cur)) {
    case M::kRunning:
      return pre ? arc(M::kRunning, M::kPreCopy)
                 : arc(M::kRunning, p2p ? M::kRunningP2P : M::kStop);
    case M::kPreCopy:
      return arc(M::kPreCopy, p2p ? M::kPreCopyP2P : M::kStopCopy);
    case M::kRunningP2P:
      return arc(M::kRunningP2P, M::kStop);
    default:
      return arc(M::kStop, M::kStopCopy);
  }
}

// Which faults took effect, and why the others did not (the migration ran
// from `start` to `end`; the destination took over at `switched_at`, or
// never: infinity). `records` already holds what the driver noted as it met
// them (corruptions, device errors, link time lost).
inline void account_faults(const std::vector<Fault>& faults, std::vector<FaultResult>& records,
                           const Link& link, double start, double end, double switched_at,
                           bool device_failed) {
  const bool switched = switched_at <= end;
  for (size_t i = 0; i < faults.size(); ++i) {
    const auto& f = faults[i];
    auto& r = records[i];
    const bool timed = f.kind == FaultKind::kLinkDown || f.kind == FaultKind::kDegrade;
    if (timed) {
      r.applied = f.at_s < end && f.at_s + f.duration_s > start;
      if (r.applied && f.kind == FaultKind::kLinkDown)
        r.effect = r.lost_s > 0 ? "transfers waited " + format_duration(r.lost_s) + " for the link"
                                : "down while nothing was being sent";
      else if (r.applied)
        r.effect = "the link ran at " + format_rate(f.bandwidth);
    } else if (f.kind == FaultKind::kDeviceError && r.applied && !device_failed) {
      r.applied = false;
      r.effect = "armed, but the migration ended before the device took that arc";
    } else if ((f.kind == FaultKind::kDestCrash || f.kind == FaultKind::kSourceCrash) &&
               link.crashed() && i == link.crash_index() && f.at_s <= end) {
      r.applied = true;
      r.effect = link.failure() + (switched ? " after the switch" : " before the switch");
    }
    if (r.applied || !r.effect.empty()) continue;
    if (f.at_s >= end)
      r.effect = "scheduled after the migration ended at " + format_duration(end);
    else if (timed)
      r.effect = "over before the migration started";
    else if (f.kind == FaultKind::kCorrupt && f.at_s >= switched_at)
      r.effect = "came after the switch: corrupt acts on the bytes sent before it";
    else if (f.kind == FaultKind::kCorrupt)
      r.effect = "no " + r.target + " bytes were sent between its time and the switch";
    else
      r.effect = "the migration had already stopped";
  }
}

}  // namespace mdevsim::sim::detail
