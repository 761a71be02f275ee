// The scheduled faults of migration.cpp (those on the link itself are in
// net/link.h): the RAM wire checksum, the arc a failed device fails, and the result's account
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
#include "net/link.h"

namespace mdevsim::sim::detail {

using net::Link;
using net::now;
using net::wait_s;

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
