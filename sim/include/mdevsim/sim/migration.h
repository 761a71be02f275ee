// A complete live migration of a VM with the GPU-like device: two hosts, a
// link, and a QEMU-like migration driver that speaks only the VFIO ABI.
#pragma once

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {

class RunRecorder;

struct RunOptions {
  bool exact = false;               // move device bytes through read()/write() buffers, not splice
  RunRecorder* recorder = nullptr;  // outputs and progress (run_outputs.h); null: none
};

// Elaborates and runs the SystemC model; call once per process.
Result run_migration(const Scenario& s, const RunOptions& options);

}  // namespace mdevsim::sim
