// The result's account of every scheduled fault: which took effect, and
// why the others did not.
#pragma once

#include <string>
#include <vector>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/sim/units.h"
#include "net/link.h"

namespace mdevsim::sim::vmm {

// Which faults took effect, and why the others did not (the migration ran
// from `start` to `end`; the destination took over at `switched_at`, or
// never: infinity). `records` already holds what the driver noted as it met
// them (corruptions, device errors, link time lost).
inline void account_faults(const std::vector<Fault>& faults, std::vector<FaultResult>& records,
                           const net::Link& link, double start, double end, double switched_at,
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

}  // namespace mdevsim::sim::vmm
