// The fluid pre-copy model against the closed-form geometric series
// (migration-flow-and-results.md 5.1): with uniform dirtying, lambda = D/R,
// pass i sends M*lambda^i, k passes run where k is the first k >= 1 with
// M*lambda^k <= R*limit, the downtime is M*lambda^k/R and the total time
// (M/R)(1 - lambda^(k+1))/(1 - lambda).
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/calibration/fluid_precopy.h"

namespace mdevsim::calibration {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
constexpr double kMiB = 1024.0 * 1024;

struct Geometric {
  int passes;
  double precopy_s, downtime_s, total_s, total_bytes;
};

Geometric closed_form(double m, double d, double r, double limit_s) {
  const double lambda = d / r;
  const int k =
      std::max(1, static_cast<int>(std::ceil(std::log(r * limit_s / m) / std::log(lambda))));
  const double lk = std::pow(lambda, k);
  const double precopy = (m / r) * (1 - lk) / (1 - lambda);
  const double downtime = m * lk / r;
  return {k, precopy, downtime, (m / r) * (1 - lk * lambda) / (1 - lambda),
          m * (1 - lk * lambda) / (1 - lambda)};
}

void expect_matches_closed_form(const FluidPrecopyInput& in) {
  const Geometric want =
      closed_form(in.resident_bytes, in.dirty_rate_Bps, in.bandwidth_Bps, in.downtime_limit_s);
  const FluidPrecopyResult got = fluid_precopy(in);
  EXPECT_EQ(got.stop, FluidStop::converged);
  ASSERT_EQ(static_cast<int>(got.passes.size()), want.passes);
  const double lambda = in.dirty_rate_Bps / in.bandwidth_Bps;
  for (int i = 0; i < want.passes; ++i)
    EXPECT_NEAR(got.passes[i].bytes, in.resident_bytes * std::pow(lambda, i),
                1e-9 * in.resident_bytes)
        << "pass " << i;
  EXPECT_NEAR(got.precopy_time_s, want.precopy_s, 1e-9 * want.total_s);
  EXPECT_NEAR(got.downtime_s, want.downtime_s, 1e-9 * want.total_s);
  EXPECT_NEAR(got.total_time_s, want.total_s, 1e-9 * want.total_s);
  EXPECT_NEAR(got.total_bytes, want.total_bytes, 1e-9 * want.total_bytes);
}

// Issue 13's RAM-only calibration: 16 GiB resident, 200 MiB/s, 25 Gbit/s, 30 ms.
FluidPrecopyInput simgrid_ram_only() {
  return {.resident_bytes = 16 * kGiB,
          .dirty_rate_Bps = 200 * kMiB,
          .bandwidth_Bps = 25e9 / 8,
          .downtime_limit_s = 0.030};
}

TEST(FluidPrecopy, RamOnlyCalibrationIsTheGeometricSeries) {
  expect_matches_closed_form(simgrid_ram_only());
  // By hand: M/R = 5.4976 s, lambda = 0.06711; pass 1 = 1.153 GB (0.369 s) is
  // above R*30 ms = 93.75 MB, pass 2 would be 77.4 MB: stop-copy.
  const FluidPrecopyResult got = fluid_precopy(simgrid_ram_only());
  EXPECT_EQ(got.passes.size(), 2u);
  EXPECT_NEAR(got.total_time_s, 5.891, 0.001);
  EXPECT_NEAR(got.downtime_s, 0.02476, 0.00001);
}

TEST(FluidPrecopy, ManyPassesAreTheGeometricSeries) {
  // lambda = 0.5: k = ceil(log2(1000)) = 10 passes.
  const FluidPrecopyInput in{
      .resident_bytes = 1e9, .dirty_rate_Bps = 5e7, .bandwidth_Bps = 1e8, .downtime_limit_s = 0.01};
  expect_matches_closed_form(in);
  EXPECT_EQ(fluid_precopy(in).passes.size(), 10u);
  // lambda = 0.9, a slow convergence over ~44 passes.
  expect_matches_closed_form({.resident_bytes = 8 * kGiB,
                              .dirty_rate_Bps = 0.9 * 1.25e9,
                              .bandwidth_Bps = 1.25e9,
                              .downtime_limit_s = 0.3});
}

TEST(FluidPrecopy, IdleVmSwitchesAfterThePassThatSendsEverything) {
  const FluidPrecopyResult got =
      fluid_precopy({.resident_bytes = 4 * kGiB, .bandwidth_Bps = 1e9, .downtime_limit_s = 0.3});
  ASSERT_EQ(got.passes.size(), 1u);
  EXPECT_DOUBLE_EQ(got.total_time_s, 4 * kGiB / 1e9);
  EXPECT_DOUBLE_EQ(got.downtime_s, 0);
  // Nothing resident, nothing dirtied: even a zero limit is met.
  const FluidPrecopyResult empty = fluid_precopy({.bandwidth_Bps = 1e9});
  EXPECT_EQ(empty.stop, FluidStop::converged);
  EXPECT_DOUBLE_EQ(empty.total_time_s, 0);
}

TEST(FluidPrecopy, FixedSwitchoverCostIsPartOfTheDowntime) {
  FluidPrecopyInput in = simgrid_ram_only();
  const double without = fluid_precopy(in).downtime_s;
  in.switchover_fixed_s = 0.5;
  const FluidPrecopyResult got = fluid_precopy(in);
  EXPECT_DOUBLE_EQ(got.downtime_s, without + 0.5);
  EXPECT_DOUBLE_EQ(got.total_time_s, got.precopy_time_s + got.downtime_s);
}

TEST(FluidPrecopy, WorkingSetBelowTheThresholdConvergesEvenFasterThanTheLink) {
  // D = 2R would never converge, but only 50 MB can be dirty (< R*limit = 100 MB).
  const FluidPrecopyResult got = fluid_precopy({.resident_bytes = 1e10,
                                                .dirty_rate_Bps = 2e9,
                                                .bandwidth_Bps = 1e9,
                                                .downtime_limit_s = 0.1,
                                                .working_set_bytes = 5e7});
  EXPECT_EQ(got.stop, FluidStop::converged);
  ASSERT_EQ(got.passes.size(), 1u);
  EXPECT_DOUBLE_EQ(got.stop_copy_bytes, 5e7);
  EXPECT_DOUBLE_EQ(got.total_time_s, 10 + 0.05);
}

TEST(FluidPrecopy, WorkingSetAboveTheThresholdNeverConverges) {
  const FluidPrecopyInput in{.resident_bytes = 1e10,
                             .dirty_rate_Bps = 2e9,
                             .bandwidth_Bps = 1e9,
                             .downtime_limit_s = 0.1,
                             .working_set_bytes = 1e9};
  const FluidPrecopyResult got = fluid_precopy(in);
  EXPECT_EQ(got.stop, FluidStop::diverges);
  EXPECT_TRUE(std::isinf(got.total_time_s));
  EXPECT_DOUBLE_EQ(got.downtime_s, 1.0);  // what stop-copy of the working set would cost
  // With a pass cap (Xen's rule) stop-copy is forced: pass 0 = 10 s, then 1 s each.
  FluidPrecopyInput capped = in;
  capped.max_passes = 5;
  const FluidPrecopyResult forced = fluid_precopy(capped);
  EXPECT_EQ(forced.stop, FluidStop::pass_limit);
  ASSERT_EQ(forced.passes.size(), 5u);
  EXPECT_DOUBLE_EQ(forced.precopy_time_s, 10 + 4 * 1.0);
  EXPECT_DOUBLE_EQ(forced.downtime_s, 1.0);
  EXPECT_DOUBLE_EQ(forced.total_bytes, 1e10 + 5 * 1e9);
}

TEST(FluidPrecopy, DirtyingFasterThanTheLinkDiverges) {
  const FluidPrecopyResult got = fluid_precopy({.resident_bytes = 1e9,
                                                .dirty_rate_Bps = 1.2e9,
                                                .bandwidth_Bps = 1e9,
                                                .downtime_limit_s = 0.3});
  EXPECT_EQ(got.stop, FluidStop::diverges);
  EXPECT_STREQ(to_string(got.stop), "diverges");
}

TEST(FluidPrecopy, BadInputNamesTheField) {
  auto message = [](FluidPrecopyInput in) {
    try {
      fluid_precopy(in);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  FluidPrecopyInput ok = simgrid_ram_only();
  FluidPrecopyInput in = ok;
  in.bandwidth_Bps = 0;
  EXPECT_NE(message(in).find("bandwidth_Bps"), std::string::npos) << message(in);
  in = ok;
  in.resident_bytes = -1;
  EXPECT_NE(message(in).find("resident_bytes"), std::string::npos) << message(in);
  in = ok;
  in.dirty_rate_Bps = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NE(message(in).find("dirty_rate_Bps"), std::string::npos) << message(in);
  in = ok;
  in.max_passes = -1;
  EXPECT_NE(message(in).find("max_passes"), std::string::npos) << message(in);
  in = ok;
  in.downtime_limit_s = std::numeric_limits<double>::infinity();
  EXPECT_NE(message(in).find("downtime_limit_s"), std::string::npos) << message(in);
}

}  // namespace
}  // namespace mdevsim::calibration
