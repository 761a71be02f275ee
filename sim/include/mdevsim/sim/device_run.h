// Device-only runs: a scenario without a `migration` section simulates one
// device and its workload for `duration` and reports what the device did.
#pragma once

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {

// Elaborates and runs the SystemC model; call once per process.
Result run_device_only(const Scenario& s);

}  // namespace mdevsim::sim
