// The switchover decision and auto-converge, as pure functions of what the
// migration loop measured (QEMU: migration_iteration_run's threshold check,
// migration_trigger_throttle). No state, no SystemC: table-tested in
// tests/sim/vmm/test_convergence.cpp.
#pragma once

#include <cstdint>

namespace mdevsim::sim::vmm {

// What to do after one pre-copy iteration.
enum class Switchover {
  kNone,       // iterate again
  kConverged,  // remaining / bandwidth <= downtime limit: QEMU's rule fired
  kForced,     // out of iterations or time: switch anyway (on_no_convergence: force)
  kCancel,     // out of iterations or time, and the policy is to cancel
  kPostcopy,   // hybrid: pre-copy rounds are over, go post-copy
};
const char* switchover_name(Switchover s);

struct ConvergencePolicy {
  double downtime_limit_s = 0.3;
  uint32_t max_iterations = 0;  // 0: no limit
  double timeout_s = 0;         // 0: none
  bool cancel_on_no_convergence = false;
  bool hybrid = false;  // post-copy after the pre-copy rounds below
  uint32_t postcopy_after_iterations = 0;
  double postcopy_after_s = 0;  // 0: not by time
};

struct IterationMeasure {
  uint64_t remaining_bytes = 0;  // RAM still dirty + the device's stop-copy size
  double bandwidth = 0;          // bytes/s measured over the iteration
  uint32_t iterations_done = 0;  // including this one
  double elapsed_s = 0;          // since the migration started
  bool timed_out = false;        // the timeout cut this iteration short
};

struct Decision {
  Switchover action = Switchover::kNone;
  double expected_downtime_s = 0;  // remaining / bandwidth
};

// QEMU's estimate: what is left over the bandwidth just measured.
inline double expected_downtime_s(uint64_t remaining_bytes, double bandwidth) {
  return static_cast<double>(remaining_bytes) / bandwidth;
}

Decision decide_switchover(const ConvergencePolicy& p, const IterationMeasure& m);

// Auto-converge (QEMU's defaults): RAM dirtied in the period above 50% of
// what was sent, twice in a row, raises the vCPU throttle to 20%, then by
// 10% up to 99%.
struct AutoConverge {
  uint32_t trigger = 0;  // periods in a row above the threshold
  double throttle = 0;   // fraction of time the vCPUs sleep
  bool operator==(const AutoConverge&) const = default;
};
// The state after one period; `changed` says whether the throttle moved.
AutoConverge auto_converge_step(AutoConverge s, double dirtied_bytes, double sent_bytes,
                                bool* changed = nullptr);

}  // namespace mdevsim::sim::vmm
