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

// With QEMU's defaults (no timeout, no cap on dirty syncs) a migration that
// cannot converge would never end; the stall guard ends it once the pending
// has not reached a new low for stall_timeout, and says so.
TEST(QemuLoopRun, AMigrationThatCannotConvergeEndsAtTheStallTimeout) {
  // Empty memory: the first pass is short at 128 MiB/s (the quickstart's
  // resident 19.75 GiB would take minutes).
  const auto r = run_scenario(std::string(MDEVSIM_SOURCE_DIR) + "/tests/sim/empty_memory_vm.json",
                              "--set migration.loop=qemu --set link.rate_limit=128MiB/s "
                              "--set migration.stall_timeout=3s");
  ASSERT_NE(r.code, 2) << r.out;
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "cancelled") << j["reason"];
  EXPECT_NE(j["reason"].get<std::string>().find("no progress for 3"), std::string::npos)
      << j["reason"];
  EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
  double seconds = 0;
  for (const auto& it : j["iterations"]) seconds += it["duration_s"].get<double>();
  // At least the guard's 3 s after the lowest pending; the lowest comes
  // within the first pass (RAM's pages sent, the device's pre-copy bytes
  // never below the window's threshold), well before 30 s.
  EXPECT_GE(seconds, 3.0);
  EXPECT_LT(seconds, 30.0);
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
  const auto stall_without_loop =
      run_scenario(scenario_path("quickstart.json"), "--set migration.stall_timeout=5s");
  EXPECT_EQ(stall_without_loop.code, 2);
}

}  // namespace
