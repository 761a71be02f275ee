// The calibration scenarios run by mdevsim (scenarios/calibration/) against
// their references in sim/calibration: the vSphere 7.0 V100 stun times (per
// row with --set device.resident=NGB, fitted with fit_line) and the fluid
// pre-copy model for the RAM-only SimGrid migration.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim/calibration/fluid_precopy.h"
#include "mdevsim/calibration/line_fit.h"
#include "mdevsim/calibration/reference_tables.h"
#include "sim_run.h"

namespace {

using namespace mdevsim::calibration;
using mdevsim::testing::run_scenario;

std::string calibration(const std::string& name) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/calibration/" + name;
}

TEST(CalibrationScenarios, VsphereV100StunTimesFitTheTable) {
  const auto& table = vmware_vsphere70_v100_stun_times();
  std::vector<double> gb, vmware, ours;
  for (const auto& row : table.rows) {
    // The table's GB are 10^9 bytes, rounded down to whole 64 KiB pages; the
    // downtime limit lets the first pass switch (vSphere stuns regardless).
    const uint64_t bytes = static_cast<uint64_t>(row.used_framebuffer_gb * 1e9) / 65536 * 65536;
    const auto r = run_scenario(
        calibration("vgpu-v100-vsphere7.json"),
        "--set device.resident=" + std::to_string(bytes) + "B --set migration.downtime_limit=60s");
    ASSERT_EQ(r.code, 0) << r.out;
    gb.push_back(row.used_framebuffer_gb);
    vmware.push_back(row.stun_time_s);
    ours.push_back(r.result.at("downtime_s").get<double>());
  }
  const LineFit ref = fit_line(gb, vmware, FitWeighting::relative);
  const LineFit sim = fit_line(gb, ours, FitWeighting::relative);
  EXPECT_NEAR(sim.slope, ref.slope, 0.10 * ref.slope);
  EXPECT_NEAR(sim.intercept, ref.intercept, 0.10 * ref.intercept);
  for (size_t i = 0; i < gb.size(); ++i)
    EXPECT_NEAR(ours[i], vmware[i], 0.25 * vmware[i]) << gb[i] << " GB";
}

TEST(CalibrationScenarios, RamOnlySimgridTotalTimeIsTheFluidModels) {
  FluidPrecopyInput in;
  in.resident_bytes = 16.0 * (1ull << 30);
  in.dirty_rate_Bps = 200.0 * (1ull << 20);
  in.bandwidth_Bps = 25e9 / 8;  // link.efficiency 1.0 in the scenario
  in.downtime_limit_s = 0.030;
  const FluidPrecopyResult fluid = fluid_precopy(in);
  const auto r = run_scenario(calibration("ram-only-simgrid.json"));
  ASSERT_EQ(r.code, 0) << r.out;
  const double total = r.result.at("total_time_s").get<double>();
  EXPECT_NEAR(total, fluid.total_time_s, 0.05 * fluid.total_time_s);
}

}  // namespace
