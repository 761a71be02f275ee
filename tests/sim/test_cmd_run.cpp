// Runs the built mdevsim binary as a user would.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using Outcome = mdevsim::testing::CliRun;
Outcome mdevsim(const std::string& args) { return mdevsim::testing::run_cli(args); }

std::string scenario(const std::string& name) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/" + name;
}

std::string write_bad(const std::string& text) {
  const std::string path = ::testing::TempDir() + "/bad." + std::to_string(getpid()) + ".json";
  std::ofstream(path) << text;
  return path;
}

TEST(CmdRun, DeviceOnlyRunReportsWritesAndTheResultSchema) {
  const Outcome r = mdevsim("run " + scenario("device-only.json") + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "mdevsim.result/1");
  EXPECT_EQ(j["outcome"], "completed");
  const double rate = j["device_run"]["achieved_rate"].get<double>();
  EXPECT_NEAR(rate, 1073741824.0, 0.02 * 1073741824.0) << "1GiB/s configured";
  EXPECT_NE(r.err.find("distinct pages"), std::string::npos)
      << "summary goes to stderr with --json -";
}

TEST(CmdRun, QuickstartMigratesAndVerifies) {
  const Outcome r = mdevsim("run " + scenario("quickstart.json") + " --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["outcome"], "completed");
  EXPECT_TRUE(j["converged"].get<bool>());
  EXPECT_TRUE(j["verification"]["passed"].get<bool>());
  EXPECT_NE(r.err.find("verify     passed"), std::string::npos) << r.err;
}

TEST(CmdRun, SameScenarioAndSeedGiveByteIdenticalJson) {
  const Outcome a = mdevsim("run " + scenario("device-only.json") + " --json -");
  const Outcome b = mdevsim("run " + scenario("device-only.json") + " --json -");
  ASSERT_EQ(a.code, 0);
  EXPECT_EQ(a.out, b.out);
  const Outcome c = mdevsim("run " + scenario("device-only.json") + " --set seed=2 --json -");
  EXPECT_NE(a.out, c.out) << "the seed matters";
}

TEST(CmdRun, BadInputExitsTwoWithFileAndJsonPath) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case c :
       {Case{"{ \"name\": ", "malformed JSON"},
        Case{R"({"device": {"vram": "4GiB", "ram": "1GiB"}})", "/device/ram: unknown key"},
        Case{R"({"device": {"vram": "4 parsecs"}})", "/device/vram"},
        Case{R"({"device": {"vram": "-1GiB"}})", "negative"},
        Case{R"({"workload": {"kind": "hotset", "hot_fraction": 2}})", "/workload/hot_fraction"}}) {
    const std::string path = write_bad(c.text);
    const Outcome r = mdevsim("run " + path);
    EXPECT_EQ(r.code, 2) << c.text;
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
}

TEST(CmdRun, BadOptionsExitTwo) {
  EXPECT_EQ(mdevsim("run").code, 2);
  EXPECT_EQ(mdevsim("run " + scenario("quickstart.json") + " --frobnicate").code, 2);
  EXPECT_EQ(mdevsim("run " + scenario("quickstart.json") + " --set").code, 2);
  EXPECT_EQ(mdevsim("run /no/such/file.json").code, 2);
  EXPECT_EQ(mdevsim("teleport").code, 2);
  const Outcome help = mdevsim("run --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--set PATH=VALUE"), std::string::npos);
}

}  // namespace
