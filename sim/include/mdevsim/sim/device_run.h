// Device-only runs: a scenario without a `migration` section simulates one
// device and its workload for `duration` and reports what the device did.
#pragma once

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {

class RunRecorder;

// Elaborates and runs the SystemC model; call once per process. `recorder`
// (run_outputs.h), when given, samples the device's engines for the VCD and
// logs the run as one span "device run" on track "src workload".
Result run_device_only(const Scenario& s, RunRecorder* recorder = nullptr);

}  // namespace mdevsim::sim
