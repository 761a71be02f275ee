// The fault matrix (scenario `faults`, docs/scenarios.md) through the built
// binary: each fault's outcome, what the source keeps, and the result's
// account of every scheduled fault (docs/results.md, `faults`).
#include <unistd.h>

#include <array>
#include <cstdio>
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

bool has(const json& j, const char* key, const std::string& part) {
  return j[key].get<std::string>().find(part) != std::string::npos;
}

// The device fails during pre-copy; its next arc towards the switch fails
// with EIO. The migration fails, the source device is reset and runs. (v1's
// pre-copy of this VM ends at 0.32 s: its fault comes at 0.31 s.)
TEST(Faults, DeviceErrorFailsTheMigrationAndTheResetIsReported) {
  for (const char* extra : {"", "--set device.protocol=v1 --set faults.0.at=310ms"}) {
    SCOPED_TRACE(extra);
    const SimRun r = run_scenario(scenario("fault-device-error.json"), extra);
    EXPECT_EQ(r.code, 1);
    const auto& j = r.result;
    EXPECT_EQ(j["outcome"], "failed") << j["reason"];
    EXPECT_TRUE(has(j, "reason", "EIO")) << j["reason"];
    EXPECT_TRUE(has(j, "reason", "reset")) << j["reason"];
    EXPECT_EQ(j["switchover"], "none");
    EXPECT_TRUE(j["verification"]["source_reset"].get<bool>());
    EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
    EXPECT_GE(j["abi"]["errors"]["EIO"].get<int>(), 1);
    ASSERT_EQ(j["faults"].size(), 1u);
    EXPECT_TRUE(j["faults"][0]["applied"].get<bool>()) << j["faults"][0];
  }
}

// A device_error that comes after the migration: nothing fails.
TEST(Faults, DeviceErrorAfterTheSwitchIsNotApplied) {
  const SimRun r = run_scenario(scenario("fault-device-error.json"), "--set faults.0.at=5s");
  EXPECT_EQ(r.result["outcome"], "completed") << r.result["reason"];
  EXPECT_FALSE(r.result["faults"][0]["applied"].get<bool>());
}

// The destination crashes at 400 ms, during the first pre-copy pass (which
// without the fault runs 0.30 .. 0.52 s): cancelled at the crash, the source
// never stopped and runs on untouched.
TEST(Faults, DestinationCrashDuringPrecopyCancelsWithTheSourceIntact) {
  const SimRun plain = run_scenario(scenario("fault-dest-crash-precopy.json"), "--set 'faults=[]'");
  ASSERT_EQ(plain.result["outcome"], "completed");
  ASSERT_GT(plain.result["iterations"][0]["start_s"].get<double>() +
                plain.result["iterations"][0]["duration_s"].get<double>(),
            0.4);
  const SimRun r = run_scenario(scenario("fault-dest-crash-precopy.json"));
  EXPECT_EQ(r.code, 1);
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "cancelled") << j["reason"];
  EXPECT_TRUE(has(j, "reason", "destination host crashed at 400.0 ms")) << j["reason"];
  EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
  EXPECT_FALSE(j["verification"]["source_reset"].get<bool>());
  EXPECT_NEAR(j["total_time_s"].get<double>(), 0.4 - 0.3, 1e-9) << "noticed at the crash";
  EXPECT_TRUE(j["faults"][0]["applied"].get<bool>());
}

// The destination runs the VM after a post-copy switch: its crash loses it.
TEST(Faults, DestinationCrashDuringPostcopyLosesTheVm) {
  const SimRun r = run_scenario(scenario("fault-dest-crash-postcopy.json"));
  EXPECT_EQ(r.code, 1);
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "vm_lost") << j["reason"];
  EXPECT_EQ(j["switchover"], "postcopy");
  EXPECT_NEAR(j["total_time_s"].get<double>(), 1.0 - 0.3, 1e-3);
  EXPECT_TRUE(j["faults"][0]["applied"].get<bool>());
  EXPECT_TRUE(has(j["faults"][0], "effect", "after the switch"));
}

// The source crashes during post-copy: every page the destination had not
// received is gone. Independently: missing at the switch minus fetched.
TEST(Faults, SourceCrashDuringPostcopyCountsThePagesNeverReceived) {
  const SimRun r = run_scenario(scenario("fault-source-crash-postcopy.json"));
  EXPECT_EQ(r.code, 1);
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "vm_lost") << j["reason"];
  const auto& pc = j["postcopy"];
  const uint64_t vram = pc["vram_pages_never_received"], ram = pc["ram_pages_never_received"];
  EXPECT_GT(vram, 0u);
  EXPECT_EQ(vram, pc["missing_vram_pages_at_switch"].get<uint64_t>() -
                      pc["vram_pages_fetched"].get<uint64_t>());
  EXPECT_EQ(ram, pc["missing_ram_pages_at_switch"].get<uint64_t>() -
                     pc["ram_pages_fetched"].get<uint64_t>());
  EXPECT_TRUE(has(j, "reason", std::to_string(vram) + " VRAM")) << j["reason"];
  EXPECT_FALSE(j["verification"]["passed"].get<bool>());
}

// A source crash before the switch takes the VM with it (the destination
// never ran); no pretence that the source is intact.
TEST(Faults, SourceCrashBeforeTheSwitchLosesTheVm) {
  const SimRun r =
      run_scenario(scenario("fault-dest-crash-precopy.json"), "--set faults.0.kind=source_crash");
  EXPECT_EQ(r.result["outcome"], "vm_lost") << r.result["reason"];
  EXPECT_TRUE(has(r.result, "reason", "source host crashed")) << r.result["reason"];
  EXPECT_FALSE(r.result["verification"]["source_intact"].get<bool>());
}

// A flipped RAM bit is caught by the slice checksum; the source keeps running.
TEST(Faults, CorruptedRamIsCaughtAndTheSourceKeepsRunning) {
  const SimRun r = run_scenario(scenario("fault-corrupt-ram.json"));
  EXPECT_EQ(r.code, 1);
  const auto& j = r.result;
  EXPECT_EQ(j["outcome"], "failed") << j["reason"];
  EXPECT_TRUE(has(j, "reason", "applied none of it")) << j["reason"];
  EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
  EXPECT_FALSE(j["verification"]["source_reset"].get<bool>());
  EXPECT_TRUE(j["faults"][0]["applied"].get<bool>());
}

// A flipped device byte is caught by the device stream's own checks, on the
// zero-copy and the byte-copy paths and over v1's data section.
TEST(Faults, CorruptedDeviceDataIsRejectedByTheDestinationDevice) {
  for (const char* extra : {"", "--exact", "--set device.protocol=v1"}) {
    SCOPED_TRACE(extra);
    const SimRun r = run_scenario(scenario("fault-corrupt-device.json"), extra);
    EXPECT_EQ(r.code, 1);
    const auto& j = r.result;
    EXPECT_EQ(j["outcome"], "failed") << j["reason"];
    EXPECT_TRUE(has(j, "reason", "device data corrupted in transit")) << j["reason"];
    EXPECT_TRUE(j["verification"]["source_intact"].get<bool>());
    EXPECT_TRUE(j["faults"][0]["applied"].get<bool>());
  }
}

// Four 20 ms outages during the first pass: it completes, every outage is
// listed with the 20 ms it cost, and the pass took exactly that much longer.
TEST(Faults, FlappingLinkCompletesWithTheLostTimeInTheResult) {
  const SimRun plain = run_scenario(scenario("fault-link-flap.json"), "--set 'faults=[]'");
  const SimRun r = run_scenario(scenario("fault-link-flap.json"));
  EXPECT_EQ(r.code, 0);
  const auto& j = r.result;
  ASSERT_EQ(j["outcome"], "completed") << j["reason"];
  EXPECT_TRUE(j["verification"]["passed"].get<bool>());
  ASSERT_EQ(j["faults"].size(), 4u);
  double lost = 0;
  for (const auto& f : j["faults"]) {
    EXPECT_TRUE(f["applied"].get<bool>());
    EXPECT_NEAR(f["lost_s"].get<double>(), 0.020, 1e-9);
    lost += f["lost_s"].get<double>();
  }
  const double longer = j["iterations"][0]["duration_s"].get<double>() -
                        plain.result["iterations"][0]["duration_s"].get<double>();
  EXPECT_NEAR(longer, lost, 1e-3);
  EXPECT_NE(run_scenario(scenario("fault-link-flap.json"), "", false)
                .out.find("waited 20.0 ms for the link"),
            std::string::npos);
}

// Faults whose time comes after the migration ended (or whose window closed
// before it started) are listed as not applied, with why.
TEST(Faults, FaultsOutsideTheMigrationAreListedAsNotApplied) {
  const std::string path = write_scenario(R"({
    "device": { "vram": "1GiB", "page_size": "64KiB" },
    "vm": { "ram": "1GiB" },
    "migration": { "start_at": "300ms" },
    "faults": [ { "at": "10ms", "kind": "link_down", "duration": "10ms" },
                { "at": "50s", "kind": "link_down", "duration": "1s" },
                { "at": "50s", "kind": "degrade", "duration": "1s", "bandwidth": "1Mbit/s" },
                { "at": "50s", "kind": "device_error" },
                { "at": "50s", "kind": "dest_crash" },
                { "at": "50s", "kind": "source_crash" },
                { "at": "50s", "kind": "corrupt", "target": "device" } ]
  })");
  const SimRun r = run_scenario(path);
  ASSERT_EQ(r.result["outcome"], "completed") << r.result["reason"];
  const auto& f = r.result["faults"];
  ASSERT_EQ(f.size(), 7u);
  EXPECT_TRUE(has(f[0], "effect", "before the migration started")) << f[0];
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_FALSE(f[i]["applied"].get<bool>()) << f[i];
    if (i > 0) EXPECT_TRUE(has(f[i], "effect", "after the migration ended")) << f[i];
  }
  EXPECT_EQ(f[6]["target"], "device");
}

// corrupt acts on the bytes sent before the destination takes over; after a
// post-copy switch it is listed as not applied, and the run completes.
TEST(Faults, CorruptionAfterThePostcopySwitchIsNotApplied) {
  const SimRun r = run_scenario(scenario("fault-source-crash-postcopy.json"),
                                "--set 'faults=[{\"at\": \"1s\", \"kind\": \"corrupt\", "
                                "\"target\": \"device\"}]'");
  EXPECT_EQ(r.result["outcome"], "completed") << r.result["reason"];
  EXPECT_FALSE(r.result["faults"][0]["applied"].get<bool>());
  EXPECT_TRUE(has(r.result["faults"][0], "effect", "came after the switch")) << r.result["faults"];
}

// Faults are scheduled in simulated time: the same run twice is the same result.
TEST(Faults, EveryFaultScenarioIsDeterministic) {
  for (const char* name :
       {"fault-device-error.json", "fault-dest-crash-precopy.json", "fault-corrupt-ram.json",
        "fault-corrupt-device.json", "fault-link-flap.json", "fault-source-crash-postcopy.json"}) {
    SCOPED_TRACE(name);
    const SimRun a = run_scenario(scenario(name)), b = run_scenario(scenario(name));
    EXPECT_EQ(a.out, b.out);
  }
}

TEST(Faults, InstantFaultsTakeNoDurationAndOnlyCorruptHasATarget) {
  const SimRun a =
      run_scenario(scenario("fault-device-error.json"), "--set faults.0.duration=1s", false);
  EXPECT_EQ(a.code, 2);
  EXPECT_NE(a.out.find("/faults/0/duration"), std::string::npos) << a.out;
  const SimRun b =
      run_scenario(scenario("fault-device-error.json"), "--set faults.0.target=ram", false);
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.out.find("/faults/0/target"), std::string::npos) << b.out;
  const SimRun c =
      run_scenario(scenario("fault-corrupt-ram.json"), "--set faults.0.target=disk", false);
  EXPECT_EQ(c.code, 2);
  EXPECT_NE(c.out.find("must be ram or device"), std::string::npos) << c.out;
}

}  // namespace
