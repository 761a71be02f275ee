// Published measurements mdevsim is calibrated against, as data with their
// source. Values are copied from the source, never derived.
#pragma once

#include <span>
#include <string_view>

namespace mdevsim::calibration {

struct StunTimeRow {
  double used_framebuffer_gb;  // vGPU frame buffer in use (GB as the source writes it)
  double stun_time_s;          // VM stun (vMotion switchover) time
};

struct StunTimeTable {
  std::string_view name;
  std::string_view source;  // document and where in it
  std::string_view setup;   // hardware and network the numbers were measured on
  std::span<const StunTimeRow> rows;
};

// VMware vSphere 7.0, NVIDIA vGPU on Tesla V100 32 GB over 10 GbE: "stun time"
// by used frame buffer, from VMware's vSphere 7.0 documentation on vMotion of
// vGPU VMs (key VMW-VGPU-70 in /work/shared/reference/migration-flow-and-results.md 6.5).
const StunTimeTable& vmware_vsphere70_v100_stun_times();

}  // namespace mdevsim::calibration
