// `migration.loop: qemu` end to end: a bundled scenario through the built
// binary, migrated by QEMU's migration thread (sim/vmm/migration_thread.cpp)
// and verified bit-exact at the destination.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim_run.h"

namespace {

using mdevsim::testing::run_scenario;
using mdevsim::testing::scenario_path;

TEST(QemuLoopRun, QuickstartConvergesAndVerifies) {
  const auto r = run_scenario(scenario_path("quickstart.json"), "--set migration.loop=qemu");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "completed") << j["reason"];
  EXPECT_EQ(j["switchover"], "converged");
  EXPECT_TRUE(j["verification"]["passed"].get<bool>());
  // The rule QEMU applies: the pending at the decision over the last
  // window's bandwidth is under the limit; at every earlier dirty sync it
  // was not (no switchover-ack holds it here).
  const auto& its = j["iterations"];
  ASSERT_FALSE(its.empty());
  EXPECT_LT(its.back()["expected_downtime_s"].get<double>(), 0.3);
  for (size_t i = 0; i + 1 < its.size(); ++i)
    EXPECT_GE(its[i]["expected_downtime_s"].get<double>(), 0.3) << i;
  // The same scenario under whole passes moves the same state: both verify.
  const auto passes = run_scenario(scenario_path("quickstart.json"));
  EXPECT_TRUE(passes.result["verification"]["passed"].get<bool>());
}

// QEMU's default max-bandwidth (128 MiB/s) paces pre-copy: no 100 ms window
// sends more than its 12.8 MiB budget plus one 1 MiB read or RAM batch.
// (At that rate quickstart's vGPU does not converge; 2 s of it suffice.)
TEST(QemuLoopRun, RateLimitPacesPrecopy) {
  const auto r = run_scenario(scenario_path("quickstart.json"),
                              "--set migration.loop=qemu --set link.rate_limit=128MiB/s "
                              "--set migration.timeout=2s");
  ASSERT_NE(r.code, 2) << r.out;
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "cancelled") << j["reason"];
  EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
  double bytes = 0, seconds = 0;
  for (const auto& it : j["iterations"]) {
    bytes += it["ram_bytes"].get<double>() + it["device_bytes"].get<double>();
    seconds += it["duration_s"].get<double>();
  }
  const double rate = 128.0 * (1 << 20), window = 0.1, overshoot = 1 << 20;
  EXPECT_NEAR(seconds, 2.0, window);
  EXPECT_LE(bytes, (rate * window + overshoot) * std::ceil(seconds / window));
  EXPECT_GE(bytes, rate * (seconds - window)) << "no slower than the limit either";
}

TEST(QemuLoopRun, BadLoopAndPolicyExitTwoWithThePath) {
  const auto bad_loop = run_scenario(scenario_path("quickstart.json"), "--set migration.loop=fast");
  EXPECT_EQ(bad_loop.code, 2);
  const auto bad_policy = run_scenario(scenario_path("quickstart.json"),
                                       "--set migration.loop=qemu --set migration.qemu_policy=9.0");
  EXPECT_EQ(bad_policy.code, 2);
  const auto no_loop =
      run_scenario(scenario_path("quickstart.json"), "--set migration.switchover_ack=true");
  EXPECT_EQ(no_loop.code, 2);
}

}  // namespace
