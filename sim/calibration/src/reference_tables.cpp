#include "mdevsim/calibration/reference_tables.h"

#include <array>

namespace mdevsim::calibration {
namespace {

constexpr std::array<StunTimeRow, 6> kVsphere70V100 = {{
    {1, 2},
    {2, 4},
    {4, 6},
    {8, 12},
    {16, 22},
    {32, 39},
}};

}  // namespace

const StunTimeTable& vmware_vsphere70_v100_stun_times() {
  static const StunTimeTable table{
      "vmware-vsphere70-v100",
      "VMware vSphere 7.0 documentation, \"vMotion of vGPU VMs\": stun time by used frame buffer "
      "(VMW-VGPU-70 in shared/reference/migration-flow-and-results.md, section 6.5)",
      "NVIDIA Tesla V100 32 GB vGPU, 10 Gb/s vMotion network, one VM at a time, whole frame "
      "buffer in use; the frame buffer is copied while the VM is stunned (no pre-copy of vGPU "
      "memory)",
      kVsphere70V100,
  };
  return table;
}

}  // namespace mdevsim::calibration
