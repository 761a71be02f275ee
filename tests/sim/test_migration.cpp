// Full-system migration through the built binary, checked against the
// analytic pre-copy model and bit-exact verification.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim_run.h"

namespace {

using nlohmann::json;

using mdevsim::testing::run_scenario;
using mdevsim::testing::SimRun;
using mdevsim::testing::write_scenario;

std::string scenario(const std::string& name) { return mdevsim::testing::scenario_path(name); }

// A duration as bundled scenarios write it ("300ms", "1s", "50us").
double seconds(const std::string& d) {
  size_t end = 0;
  const double v = std::stod(d, &end);
  const std::string unit = d.substr(end);
  return unit == "ms" ? v / 1e3 : unit == "us" ? v / 1e6 : unit == "ns" ? v / 1e9 : v;
}

// The switchover reason, recomputed from the scenario and the iterations
// list: QEMU's rule is remaining bytes / measured bandwidth <= limit.
void expect_switchover_reason(const json& file, const json& j) {
  const json mig = file["migration"];
  const double limit = mig.contains("downtime_limit") ? seconds(mig["downtime_limit"]) : 0.3;
  const std::string mode = mig.value("mode", "precopy");
  const std::string on_no = mig.value("on_no_convergence", "cancel");
  const auto& its = j["iterations"];
  auto rule_fired = [&](const json& it) {
    return it["remaining_bytes"].get<double>() / it["bandwidth"].get<double>() <= limit;
  };
  bool any_fired = false;
  for (const auto& it : its) any_fired |= rule_fired(it);
  const std::string sw = j["switchover"];
  EXPECT_EQ(j["converged"].get<bool>(), sw == "converged");
  if (sw == "converged") {
    ASSERT_FALSE(its.empty());
    EXPECT_TRUE(rule_fired(its.back())) << "the last iteration met the rule";
    for (size_t i = 0; i + 1 < its.size(); ++i) EXPECT_FALSE(rule_fired(its[i])) << i;
    EXPECT_TRUE(j["postcopy"].is_null());
    EXPECT_FALSE(j["stop_copy"].is_null());
  } else if (sw == "forced") {
    EXPECT_EQ(on_no, "force");
    EXPECT_FALSE(any_fired) << "no iteration met the rule";
    EXPECT_FALSE(j["stop_copy"].is_null());
  } else if (sw == "postcopy") {
    EXPECT_NE(mode, "precopy");
    EXPECT_FALSE(any_fired) << "a hybrid run whose rule fired switches by stop-copy";
    EXPECT_FALSE(j["postcopy"].is_null());
  } else {
    EXPECT_EQ(sw, "none");
    EXPECT_NE(j["outcome"], "completed");
    EXPECT_TRUE(j["stop_copy"].is_null());
    EXPECT_TRUE(j["postcopy"].is_null());
    if (mode == "precopy" && on_no == "cancel" && !its.empty() &&
        j["reason"].get<std::string>().find("did not converge") != std::string::npos) {
      EXPECT_FALSE(any_fired);
    }
  }
}

// Every bundled scenario runs with verification passing, or fails the way
// its `expect` section says it should; its switchover reason agrees with
// the rule recomputed from its iterations.
TEST(Migration, EveryBundledScenarioRunsAsExpected) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios")) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const json file = json::parse(in, nullptr, true, true);
    if (!file.contains("migration")) continue;
    ++count;
    const SimRun r = run_scenario(entry.path().string());
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_FALSE(r.out.empty());
    const auto& j = r.result;
    const std::string want =
        file.contains("expect") ? file["expect"]["outcome"].get<std::string>() : "completed";
    EXPECT_EQ(j["outcome"], want) << j["reason"];
    if (file.contains("expect") && file["expect"].contains("reason")) {
      EXPECT_NE(j["reason"].get<std::string>().find(file["expect"]["reason"].get<std::string>()),
                std::string::npos)
          << j["reason"];
    }
    if (want == "completed") {
      EXPECT_EQ(r.code, 0);
      EXPECT_TRUE(j["verification"]["passed"].get<bool>()) << j["verification"].dump();
      EXPECT_TRUE(j["verification"]["continuation_matches"].get<bool>());
      if (j["converged"].get<bool>() && j["postcopy"].is_null()) {
        EXPECT_LE(j["downtime_s"].get<double>(), 1.5 * 0.3)
            << "converged runs stay within 1.5x the limit";
      }
    } else {
      EXPECT_EQ(r.code, 1);
    }
    if (want == "cancelled") {
      EXPECT_TRUE(j["verification"]["source_intact"].get<bool>()) << "nothing lost";
    }
    expect_switchover_reason(file, j);
  }
  EXPECT_GE(count, 10);
}

// The run summary's lines for the switch and the downtime.
std::string summary(const std::string& scenario_path, const std::string& extra = "") {
  return mdevsim::testing::run_cli("run " + scenario_path + " " + extra).out;
}

// protocol-v2-stopcopy forces its switch after 30 iterations and stops the
// VM for ~720 ms against 300 ms: the summary says both; quickstart neither.
TEST(Migration, SummaryNamesTheSwitchoverAndAnExceededLimit) {
  const json forced = run_scenario(scenario("protocol-v2-stopcopy.json")).result;
  ASSERT_GT(forced["downtime_s"].get<double>(), 0.3);
  const std::string f = summary(scenario("protocol-v2-stopcopy.json"));
  EXPECT_NE(f.find("iterations 30, not converged, switched over anyway (forced)"),
            std::string::npos)
      << f;
  EXPECT_NE(f.find("(limit 300.0 ms, exceeded)"), std::string::npos) << f;
  const json quick = run_scenario(scenario("quickstart.json")).result;
  ASSERT_LT(quick["downtime_s"].get<double>(), 0.3);
  const std::string q = summary(scenario("quickstart.json"));
  EXPECT_NE(q.find(", converged\n"), std::string::npos) << q;
  EXPECT_EQ(q.find("exceeded"), std::string::npos) << q;
  const std::string pc = summary(scenario("postcopy-write-heavy.json"));
  EXPECT_NE(pc.find("iterations 0, then post-copy"), std::string::npos) << pc;
}

TEST(Migration, SameScenarioAndSeedGiveByteIdenticalResults) {
  const SimRun a = run_scenario(scenario("quickstart.json")),
               b = run_scenario(scenario("quickstart.json"));
  EXPECT_EQ(a.out, b.out);
}

TEST(Migration, ZeroCopyAndByteCopyPathsGiveTheSameMigration) {
  json a = run_scenario(scenario("quickstart.json")).result;
  json b = run_scenario(scenario("quickstart.json"), "--exact").result;
  ASSERT_TRUE(a.is_object() && b.is_object());
  // The ABI call mix differs (splice vs read/write); everything else must not.
  a.erase("abi");
  b.erase("abi");
  EXPECT_EQ(a.dump(), b.dump());
}

// Uniform device dirtying dominates: iteration i+1 sends the distinct pages
// written during iteration i, N(1 - e^(-r t / N)) with t its duration.
TEST(Migration, IterationBytesFollowTheUniformDirtyingRecurrence) {
  const std::string path = write_scenario(R"({
    "device": { "vram": "1GiB", "page_size": "64KiB" },
    "workload": { "kind": "uniform", "dirty_rate": "1.25GiB/s" },
    "vm": { "ram": "64MiB" },
    "link": { "bandwidth": "10Gbit/s" },
    "migration": { "start_at": "500ms", "downtime_limit": "1ms", "max_iterations": 5, "on_no_convergence": "force" }
  })");
  const SimRun r = run_scenario(path);
  const auto& it = r.result["iterations"];
  ASSERT_EQ(it.size(), 5u);
  const double N = 16384, rate = 1.25 * 1073741824.0 / 65536, record = 16 + 8 + 65536;
  for (size_t i = 0; i + 1 < 4; ++i) {
    const double t = it[i]["duration_s"].get<double>();
    const double expected = N * (1 - std::exp(-rate * t / N)) * record;
    EXPECT_NEAR(it[i + 1]["device_bytes"].get<double>(), expected, 0.10 * expected)
        << "iteration " << i + 1;
  }
  // Everything touched went at least once.
  const double touched0 = N * (1 - std::exp(-rate * 0.5 / N)) * 65536;
  EXPECT_GE(r.result["bytes"]["total"].get<double>(), touched0);
  EXPECT_TRUE(r.result["verification"]["passed"].get<bool>());
}

// A hot set larger than bandwidth x downtime limit never converges; with
// cancel the source keeps running; auto-converge rescues a RAM-bound case.
TEST(Migration, RamBoundHotSetNeedsAutoConverge) {
  const std::string path = write_scenario(R"({
    "device": { "vram": "256MiB", "page_size": "64KiB" },
    "vm": { "ram": "4GiB" },
    "guest": { "kind": "hotset", "dirty_rate": "2GiB/s", "hot_fraction": 0.25, "hot_probability": 1.0 },
    "link": { "bandwidth": "10Gbit/s" },
    "migration": { "start_at": "1s", "max_iterations": 25 }
  })");
  const SimRun plain = run_scenario(path);
  EXPECT_EQ(plain.result["outcome"], "cancelled");
  EXPECT_FALSE(plain.result["converged"].get<bool>());
  EXPECT_EQ(plain.result["switchover"], "none");
  EXPECT_EQ(plain.result["iterations"].size(), 25u);
  EXPECT_TRUE(plain.result["verification"]["source_intact"].get<bool>());
  const SimRun ac = run_scenario(path, "--set migration.auto_converge=true");
  EXPECT_EQ(ac.result["outcome"], "completed") << ac.result["reason"];
  EXPECT_TRUE(ac.result["converged"].get<bool>());
  EXPECT_EQ(ac.result["switchover"], "converged");
  EXPECT_TRUE(ac.result["verification"]["passed"].get<bool>());
  // QEMU's ladder: 20%, then +10% per trigger.
  double last = 0;
  bool saw20 = false;
  for (const auto& i : ac.result["iterations"]) {
    const double t = i["throttle"].get<double>();
    EXPECT_GE(t, last);
    if (t > last && last > 0) {
      EXPECT_NEAR(t - last, 0.1, 1e-9);
    }
    saw20 |= std::abs(t - 0.2) < 1e-9;
    last = t;
  }
  EXPECT_TRUE(saw20);
  EXPECT_GE(last, 0.3);
}

// A STOP_COPY-only device sends all touched VRAM during the downtime: the
// downtime grows linearly with VRAM in use, slope 1 / usable bandwidth
// (bandwidth x link.efficiency, default 1448/1538).
TEST(Migration, StopCopyOnlyDowntimeIsLinearInVramWithSlopeOneOverBandwidth) {
  const std::string path = write_scenario(R"({
    "device": { "vram": "8GiB", "page_size": "64KiB", "features": ["stop_copy", "p2p"],
                "resume_bandwidth": "1TiB/s", "stop_latency": "0s" },
    "workload": { "kind": "phased",
                  "phases": [ { "duration": "1s", "kind": "streaming", "dirty_rate": "1GiB/s" },
                              { "duration": "100s", "kind": "uniform", "dirty_rate": "0B/s" } ] },
    "vm": { "ram": "64MiB" },
    "link": { "bandwidth": "25Gbit/s", "latency": "0s" },
    "migration": { "start_at": "1s", "max_iterations": 1, "on_no_convergence": "force" }
  })");
  std::vector<double> gib, down;
  for (int used : {1, 2, 4}) {
    const SimRun r =
        run_scenario(path, "--set workload.phases.0.dirty_rate=" + std::to_string(used) + "GiB/s");
    ASSERT_EQ(r.result["outcome"], "completed") << r.result["reason"];
    EXPECT_TRUE(r.result["verification"]["passed"].get<bool>());
    gib.push_back(used * 1073741824.0);
    down.push_back(r.result["downtime_s"].get<double>());
  }
  // Least-squares slope (seconds per byte) against 1 / bandwidth.
  double mx = 0, my = 0;
  for (size_t i = 0; i < gib.size(); ++i) mx += gib[i] / gib.size(), my += down[i] / gib.size();
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < gib.size(); ++i)
    sxy += (gib[i] - mx) * (down[i] - my), sxx += (gib[i] - mx) * (gib[i] - mx);
  const double slope = sxy / sxx, expected = 1.0 / (25e9 / 8 * 1448 / 1538);
  EXPECT_NEAR(slope, expected, 0.05 * expected);
}

TEST(Migration, LinkFailureDuringPrecopyCancelsSafely) {
  const SimRun r = run_scenario(scenario("link-failure.json"));
  EXPECT_EQ(r.result["outcome"], "cancelled");
  EXPECT_TRUE(r.result["verification"]["source_intact"].get<bool>());
  EXPECT_EQ(r.code, 1);
}

// migration.timeout bounds pre-copy even when one pass cannot finish: at
// 10 Mbit/s the first pass of quickstart's 8 GiB of RAM would take hours.
TEST(Migration, TimeoutEndsAPassTooSlowToFinish) {
  const SimRun r = run_scenario(scenario("quickstart.json"),
                                "--set link.bandwidth=10Mbit/s --set migration.timeout=60s");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.result["outcome"], "cancelled");
  ASSERT_EQ(r.result["iterations"].size(), 1u);
  // One numbering everywhere: the message names the iteration by its JSON index.
  EXPECT_EQ(r.result["iterations"][0]["index"], 0);
  EXPECT_NE(
      r.result["reason"].get<std::string>().find("the timeout (60.000 s) ended iteration 0 early"),
      std::string::npos)
      << r.result["reason"];
  EXPECT_NEAR(r.result["total_time_s"].get<double>(), 60.0, 0.011);
  // What arrived is what 10 Mbit/s (x link.efficiency's default 1448/1538)
  // moves in the pass (minus the setup's latency), not the whole pass.
  const double sent = r.result["iterations"][0]["ram_bytes"].get<double>() +
                      r.result["iterations"][0]["device_bytes"].get<double>();
  EXPECT_NEAR(sent, 10e6 / 8 * 1448 / 1538 * r.result["iterations"][0]["duration_s"].get<double>(),
              2e5);
  EXPECT_TRUE(r.result["verification"]["source_intact"].get<bool>());
}

// A pass cut short by the timeout loses nothing: RAM pages that had not
// arrived are sent again, and a device chunk that left the source is
// delivered whole, so a forced switchover still verifies bit-exact.
TEST(Migration, ForcedSwitchoverAfterATimedOutPassVerifies) {
  for (const char* protocol : {"v2", "v1"}) {
    for (const char* exact : {"", "--exact"}) {
      // An empty-memory VM: the forced switch is the point, not the content.
      const SimRun r =
          run_scenario(std::string(MDEVSIM_SOURCE_DIR) + "/tests/sim/empty_memory_vm.json",
                       std::string("--set link.bandwidth=1Gbit/s --set migration.timeout=3s "
                                   "--set migration.on_no_convergence=force "
                                   "--set device.protocol=") +
                           protocol + " " + exact);
      SCOPED_TRACE(std::string(protocol) + " " + exact);
      EXPECT_EQ(r.result["outcome"], "completed");
      EXPECT_FALSE(r.result["converged"].get<bool>());
      EXPECT_EQ(r.result["switchover"], "forced");
      EXPECT_TRUE(r.result["verification"]["passed"].get<bool>()) << r.result["verification"];
      double precopy_s = 0;
      for (const auto& it : r.result["iterations"]) precopy_s += it["duration_s"].get<double>();
      EXPECT_LE(precopy_s, 3.0);
    }
  }
}

// A device that fails an arc fails the migration (not a clean cancel): the
// source is reset to run again, and the result says so.
TEST(Migration, InjectedDeviceFaultFailsAndResetsTheSource) {
  const SimRun r = run_scenario(scenario("quickstart.json"),
                                "--set 'device.fail_arc=[\"PRE_COPY_P2P\",\"STOP_COPY\"]'");
  EXPECT_EQ(r.result["outcome"], "failed");
  EXPECT_EQ(r.result["switchover"], "none");
  EXPECT_TRUE(r.result["verification"]["source_reset"].get<bool>());
  EXPECT_GE(r.result["abi"]["calls"]["src ioctl VFIO_DEVICE_RESET"].get<int>(), 1);
  EXPECT_NE(r.result["reason"].get<std::string>().find("EIO"), std::string::npos)
      << r.result["reason"];
  EXPECT_TRUE(r.result["verification"]["source_intact"].get<bool>());
  EXPECT_GE(r.result["abi"]["errors"]["EIO"].get<int>(), 1);
}

TEST(Migration, BadScenarioInputExitsTwoWithThePath) {
  const std::string path = write_scenario(R"({"migration": {"downtime_limit": "fast"}})");
  const auto r = mdevsim::testing::run_cli("run " + path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/migration/downtime_limit"), std::string::npos) << r.err;
}

}  // namespace
