// Two independent references held against each other: SimGrid 3.32's
// live-migration plugin (sg_vm_migrate) and mdevsim's fluid pre-copy model
// (sim/calibration) on issue 13's RAM-only migration — 16 GiB RAM,
// 200 MiB/s of dirtying, 25 Gbit/s, SimGrid's fixed 30 ms downtime limit.
#include <cmath>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/calibration/fluid_precopy.h"

#ifdef MDEVSIM_HAVE_SIMGRID
#include "simgrid_ram_migration.h"
#endif

namespace mdevsim::calibration {
namespace {

#ifdef MDEVSIM_HAVE_SIMGRID
namespace sg = simgrid_reference;

double fluid_total_s(const sg::RamMigration& m, double bandwidth_Bps) {
  return fluid_precopy({.resident_bytes = m.ram_bytes,
                        .dirty_rate_Bps = m.dirty_rate_Bps,
                        .bandwidth_Bps = bandwidth_Bps,
                        .downtime_limit_s = 0.030})
      .total_time_s;
}

double simgrid_total_s(const sg::RamMigration& m) {
  std::string error;
  const auto r = sg::run(m, &error);
  EXPECT_TRUE(r.has_value()) << error;
  return r ? r->migration_time_s : NAN;
}

void expect_within_5_percent(double simgrid_s, double fluid_s) {
  std::printf("SimGrid %.6f s, fluid model %.6f s (%+.3f %%)\n", simgrid_s, fluid_s,
              100 * (simgrid_s - fluid_s) / fluid_s);
  EXPECT_NEAR(simgrid_s, fluid_s, 0.05 * fluid_s);
}
#endif

#define REQUIRE_SIMGRID()                                                               \
  do {                                                                                  \
    if (!kHaveSimGrid)                                                                  \
      GTEST_SKIP() << "SimGrid not found when CMake ran (pkg-config simgrid); install " \
                      "libsimgrid-dev (scripts/install-deps) and re-run cmake";         \
  } while (0)

#ifdef MDEVSIM_HAVE_SIMGRID
constexpr bool kHaveSimGrid = true;
#else
constexpr bool kHaveSimGrid = false;
#endif

TEST(SimGridReference, IdealLinkRamOnlyMigrationEqualsTheFluidModel) {
  REQUIRE_SIMGRID();
#ifdef MDEVSIM_HAVE_SIMGRID
  const sg::RamMigration m;  // issue 13's migration, ideal link
  expect_within_5_percent(simgrid_total_s(m), fluid_total_s(m, m.link_Bps));
#endif
}

TEST(SimGridReference, DefaultNetworkModelEqualsTheFluidModelAtTheFlowsShare) {
  REQUIRE_SIMGRID();
#ifdef MDEVSIM_HAVE_SIMGRID
  sg::RamMigration m;
  m.ideal_link = false;  // LV08: 0.97 bandwidth factor, 5 % cross traffic
  expect_within_5_percent(simgrid_total_s(m), fluid_total_s(m, m.link_Bps * sg::kLv08FlowShare));
#endif
}

TEST(SimGridReference, ManyRoundMigrationEqualsTheFluidModel) {
  REQUIRE_SIMGRID();
#ifdef MDEVSIM_HAVE_SIMGRID
  // lambda = 0.6: six stage-2 rounds before 30 ms of link time is left.
  sg::RamMigration m;
  m.ram_bytes = 4.0 * 1024 * 1024 * 1024;
  m.dirty_rate_Bps = 0.6 * m.link_Bps;
  const FluidPrecopyResult fluid = fluid_precopy({.resident_bytes = m.ram_bytes,
                                                  .dirty_rate_Bps = m.dirty_rate_Bps,
                                                  .bandwidth_Bps = m.link_Bps,
                                                  .downtime_limit_s = 0.030});
  EXPECT_GE(fluid.passes.size(), 5u);
  expect_within_5_percent(simgrid_total_s(m), fluid.total_time_s);
#endif
}

}  // namespace
}  // namespace mdevsim::calibration
