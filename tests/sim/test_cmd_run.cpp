// Runs the built mdevsim binary as a user would.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

// The errors a new user hit (issue 10): each exits 2 with a message that says
// what is wrong and where.
struct UserError {
  std::string args;                   // after "run "
  std::vector<std::string> expected;  // substrings of stderr
};

void expect_user_error(const UserError& c) {
  const Outcome r = mdevsim("run " + c.args);
  EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
  for (const auto& e : c.expected)
    EXPECT_NE(r.err.find(e), std::string::npos) << e << "\n" << r.err;
}

TEST(CmdRun, ADirectoryIsNotAScenario) {
  expect_user_error({std::string(MDEVSIM_SOURCE_DIR) + "/scenarios",
                     {"/scenarios: is a directory, not a scenario file"}});
  expect_user_error({"/no/such/file.json",
                     {"/no/such/file.json: cannot open the scenario file: "
                      "No such file or directory"}});
}

TEST(CmdRun, AMissingProtocolFileIsSaidToBeMissing) {
  expect_user_error({scenario("quickstart.json") + " --set device.protocol=mine/v9.json",
                     {"/device/protocol", "mine/v9.json: the protocol file does not exist"}});
}

TEST(CmdRun, AnOutputThatCannotBeWrittenSaysWhy) {
  const std::string dir = ::testing::TempDir() + "/no-such-dir-" + std::to_string(getpid());
  expect_user_error({scenario("quickstart.json") + " --trace " + dir + "/llm.trace",
                     {"cannot write " + dir + "/llm.trace: No such file or directory"}});
  expect_user_error({scenario("quickstart.json") + " --report " + ::testing::TempDir(),
                     {"cannot write " + ::testing::TempDir() + ": Is a directory"}});
}

TEST(CmdRun, ASetIntoAListTheScenarioLacksIsNamed) {
  expect_user_error({scenario("quickstart.json") + " --set faults.0.at=2s",
                     {"(--set faults.0.at=2s)",
                      "/faults: the scenario has no list here, so "
                      "there is no item 0"}});
  const std::string path = write_bad(R"({"faults": []})");
  expect_user_error({path + " --set faults.0.at=2s",
                     {"(--set faults.0.at=2s)", "index 0 is beyond the list (0 items)"}});
}

TEST(CmdRun, ASetOfAKeyIntoAListOfPatternsNamesAnItemToSet) {
  // quickstart's workload is a list of concurrent patterns (KV appends, hot set).
  expect_user_error({scenario("quickstart.json") + " --set workload.dirty_rate=1GiB/s",
                     {"(--set workload.dirty_rate=1GiB/s)",
                      "/workload: 'dirty_rate' is not a list index: this is a list of 2 items",
                      "e.g. workload.0.dirty_rate"}});
}

TEST(CmdRun, AnSiSizeThatIsNoMultipleOfThePageHintsAtGiB) {
  expect_user_error({scenario("quickstart.json") + " --set device.vram=8GB",
                     {"/device/vram: must be a multiple of page_size",
                      "GB is 10^9 bytes, GiB 2^30: did you mean 8GiB?"}});
  expect_user_error({scenario("quickstart.json") + " --set vm.ram=100MB",
                     {"/vm/ram", "MB is 10^6 bytes, MiB 2^20: did you mean 100MiB?"}});
}

TEST(CmdRun, WhatWasAcceptedSilentlyIsRefused) {
  expect_user_error({write_bad(R"({"device": {"vram": "1GiB", "contexts": 4, "vram": "2GiB"}})"),
                     {"/device/vram: the key appears twice in its object"}});
  expect_user_error({write_bad(R"({"faults": [{"at": "1s"}, {"at": "1s", "at": "2s"}]})"),
                     {"/faults/1/at: the key appears twice"}});
  expect_user_error({scenario("quickstart.json") + " --set workload.0.exponent=2",
                     {"/workload/0/exponent: does not apply to a hotset pattern"}});
  expect_user_error({write_bad(R"({"guest": {"kind": "uniform", "fps": 30}})"),
                     {"/guest/fps: does not apply to a uniform pattern (its keys: kind, "
                      "dirty_rate, read_rate, region)"}});
  expect_user_error({write_bad(R"({"expect": {"outcome": "cancelled", "reson": "link"}})"),
                     {"/expect/reson: unknown key"}});
  expect_user_error(
      {write_bad(R"({"expect": {"outcome": "lost"}})"), {"/expect/outcome: must be"}});
}

// QEMU refuses the postcopy-preempt capability without postcopy-ram
// (migrate_caps_check); a pre-copy scenario asking for it is refused the same
// way, before anything runs.
TEST(CmdRun, PostcopyPreemptWithPrecopyIsRefusedWithQemusMessage) {
  expect_user_error({scenario("quickstart.json") + " --set migration.postcopy_preempt=true",
                     {scenario("quickstart.json"),
                      "/migration/postcopy_preempt:", "Postcopy preempt requires postcopy-ram"}});
}

TEST(CmdRun, TwoOutputsCannotShareAFile) {
  const std::string f = ::testing::TempDir() + "/shared." + std::to_string(getpid());
  expect_user_error({scenario("quickstart.json") + " --trace " + f + " --timeline " + f,
                     {"--trace and --timeline both write " + f}});
  const auto same =
      std::filesystem::path(f).parent_path() / "." / std::filesystem::path(f).filename();
  expect_user_error({scenario("quickstart.json") + " --json " + f + " --report " + same.string(),
                     {"--json and --report both write"}});
  expect_user_error({scenario("quickstart.json") + " --json - --report -",
                     {"--json and --report both write stdout ('-')"}});
}

// '-' is stdout for every output written as a stream; the VCD needs a file.
TEST(CmdRun, DashIsStdoutForEveryStreamedOutput) {
  const Outcome report = mdevsim("run " + scenario("quickstart.json") + " --report -");
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(report.out.rfind("<!DOCTYPE html>", 0), 0u) << report.out.substr(0, 80);
  EXPECT_NE(report.err.find("verify     passed"), std::string::npos) << "summary on stderr";
  const Outcome trace = mdevsim("run " + scenario("quickstart.json") + " --trace -");
  EXPECT_EQ(trace.code, 0);
  EXPECT_NE(trace.out.find("VFIO_DEVICE_FEATURE"), std::string::npos) << trace.out.substr(0, 200);
  expect_user_error({scenario("quickstart.json") + " --vcd -",
                     {"--vcd -: the waveform needs a "
                      "file name"}});
}

TEST(CmdRun, ABareZeroDurationNeedsNoUnit) {
  const Outcome r = mdevsim("run " + scenario("quickstart.json") +
                            " --set migration.timeout=0 --set migration.start_at=\"0\" --json -");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["outcome"], "completed");
  expect_user_error({scenario("quickstart.json") + " --set migration.downtime_limit=0",
                     {"/migration/downtime_limit: must be > 0"}});
  expect_user_error({scenario("quickstart.json") + " --set migration.timeout=5",
                     {"/migration/timeout: must be a string with a unit"}});
}

// 1bit/s is 0.125 B/s: the summary shows it, not "0 B/s".
TEST(CmdRun, ASlowLinkPrintsItsRate) {
  const Outcome r = mdevsim("run " + scenario("quickstart.json") +
                            " --set link.bandwidth=1bit/s --set migration.timeout=10ms");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("link 0.125 B/s line, "), std::string::npos) << r.out;
}

// realistic: the summary labels the line rate and what migration data gets:
// 25 Gbit/s = 3.125 GB/s on the line, x 0.5 efficiency = 1.5625 GB/s usable,
// and a max-bandwidth, which is not scaled.
TEST(CmdRun, TheSummaryPrintsTheUsableLinkRateAndTheRateLimit) {
  const Outcome r = mdevsim("run " + scenario("quickstart.json") +
                            " --set link.efficiency=0.5 --set link.rate_limit=100MB/s"
                            " --set migration.timeout=10ms");
  EXPECT_NE(r.out.find("link 3.12 GB/s line, 1.56 GB/s usable, 100.00 MB/s rate limit\n"),
            std::string::npos)
      << r.out;
  const Outcome plain = mdevsim("run " + scenario("quickstart.json") +
                                " --set link.efficiency=0.5 --set migration.timeout=10ms");
  EXPECT_NE(plain.out.find("link 3.12 GB/s line, 1.56 GB/s usable\n"), std::string::npos)
      << plain.out;
}

TEST(CmdRun, ASubmitIntervalTooShortToSimulateIsRefusedWithTheBound) {
  expect_user_error({scenario("quickstart.json") + " --set workload.0.submit_interval=1ns",
                     {"/workload/0/submit_interval: must be at least 1us (got 1.0 ns)",
                      "wall time grows as 1/submit_interval"}});
}

}  // namespace
