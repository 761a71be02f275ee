// A complete live migration of a VM with the GPU-like device: two hosts, a
// link, and a QEMU-like migration driver that speaks only the VFIO ABI.
#pragma once

#include <functional>
#include <memory>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {

class RunRecorder;
struct Host;
namespace verify {
class HostInspector;
}

// How the verification oracle sees a host ("src", "dst", "ref"); tests pass
// a double here (tests/sim/verify). Empty: verify::HostInspector itself.
using InspectorFactory =
    std::function<std::unique_ptr<verify::HostInspector>(Host&, const char* role)>;

struct RunOptions {
  bool exact = false;               // move device bytes through read()/write() buffers, not splice
  RunRecorder* recorder = nullptr;  // outputs and progress (run_outputs.h); null: none
  InspectorFactory inspector;
};

// Elaborates and runs the SystemC model; call once per process.
Result run_migration(const Scenario& s, const RunOptions& options);

}  // namespace mdevsim::sim
