#include "vmm/convergence.h"

#include <algorithm>

namespace mdevsim::sim::vmm {

const char* switchover_name(Switchover s) {
  switch (s) {
    case Switchover::kNone:
      return "none";
    case Switchover::kConverged:
      return "converged";
    case Switchover::kForced:
      return "forced";
    case Switchover::kCancel:
      return "cancel";
    case Switchover::kPostcopy:
      return "postcopy";
  }
  return "none";
}

Decision decide_switchover(const ConvergencePolicy& p, const IterationMeasure& m) {
  Decision d;
  d.expected_downtime_s = expected_downtime_s(m.remaining_bytes, m.bandwidth);
  if (d.expected_downtime_s <= p.downtime_limit_s) {
    d.action = Switchover::kConverged;
    return d;
  }
  const bool out_of_rounds = p.max_iterations && m.iterations_done >= p.max_iterations;
  const bool out_of_time = (p.timeout_s > 0 && m.elapsed_s >= p.timeout_s) || m.timed_out;
  if (out_of_rounds || out_of_time) {
    d.action = p.cancel_on_no_convergence ? Switchover::kCancel : Switchover::kForced;
    return d;
  }
  if (p.hybrid && (m.iterations_done >= p.postcopy_after_iterations ||
                   (p.postcopy_after_s > 0 && m.elapsed_s >= p.postcopy_after_s)))
    d.action = Switchover::kPostcopy;
  return d;
}

AutoConverge auto_converge_step(AutoConverge s, double dirtied_bytes, double sent_bytes,
                                bool* changed) {
  if (changed) *changed = false;
  if (dirtied_bytes > 0.5 * sent_bytes) {
    if (++s.trigger >= 2) {
      s.throttle = s.throttle == 0 ? 0.2 : std::min(0.99, s.throttle + 0.1);
      s.trigger = 0;
      if (changed) *changed = true;
    }
  } else {
    s.trigger = 0;
  }
  return s;
}

}  // namespace mdevsim::sim::vmm
