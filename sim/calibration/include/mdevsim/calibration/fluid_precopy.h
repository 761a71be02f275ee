// The fluid pre-copy model: the analytic recurrence every live-migration
// model reduces to when memory is a fluid (no pages, no protocol, no loop
// timing). Pass 0 sends everything resident; pass i sends what was dirtied
// while pass i-1 was on the wire; after each pass, if what is left could be
// sent within the downtime limit, the VM stops and it is sent (stop-copy).
// This is SimGrid's live-migration plugin (VmLiveMigration.cpp: stage 1,
// stage 2 rounds with threshold = bandwidth x max_downtime, stage 3) and the
// geometric model of /work/shared/reference/migration-flow-and-results.md 5.1
// with the working-set cap of 5.2.
#pragma once

#include <limits>
#include <string>
#include <vector>

namespace mdevsim::calibration {

struct FluidPrecopyInput {
  double resident_bytes = 0;    // M: what pass 0 sends
  double dirty_rate_Bps = 0;    // D: unique bytes dirtied per second while the VM runs
  double bandwidth_Bps = 0;     // R: bytes per second on the wire, in every pass
  double downtime_limit_s = 0;  // switch over when remaining / R <= this
  // Pre-copy passes (pass 0 included) before stop-copy is forced; 0 = no cap
  // (QEMU and SimGrid have none).
  int max_passes = 0;
  // Cap on the bytes one pass can leave dirty (SimGrid's working-set memory,
  // 90 % of RAM in sg_vm_create_migratable); infinity = no cap.
  double working_set_bytes = std::numeric_limits<double>::infinity();
  double switchover_fixed_s = 0;  // fixed cost added to the downtime (t_fix)
};

enum class FluidStop {
  converged,   // remaining / R reached the downtime limit
  pass_limit,  // max_passes reached: stop-copy forced with what was left
  diverges,    // no cap and remaining no longer shrinks: never switches over
};

struct FluidPass {
  double bytes = 0;       // sent in this pass
  double duration_s = 0;  // bytes / R
};

struct FluidPrecopyResult {
  std::vector<FluidPass> passes;  // pre-copy passes, pass 0 first
  FluidStop stop = FluidStop::converged;
  double precopy_time_s = 0;   // sum of the passes' durations
  double stop_copy_bytes = 0;  // sent while the VM is stopped
  double downtime_s = 0;       // stop_copy_bytes / R + switchover_fixed_s
  double total_time_s = 0;     // precopy_time_s + downtime_s
  double total_bytes = 0;      // every pass + stop-copy
};

// Throws std::invalid_argument naming the field for a negative, non-finite or
// (bandwidth) zero input. For `diverges`, stop_copy_bytes and downtime_s are
// what stop-copy would cost at that point; total_time_s is infinity.
FluidPrecopyResult fluid_precopy(const FluidPrecopyInput& input);

const char* to_string(FluidStop stop);

}  // namespace mdevsim::calibration
