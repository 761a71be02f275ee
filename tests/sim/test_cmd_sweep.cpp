// Runs the built `mdevsim sweep` as a user would and checks its files
// against direct `mdevsim run`s of the same points.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"
#include "scratch_dir.h"

namespace {

namespace fs = std::filesystem;

using Outcome = mdevsim::testing::CliRun;
Outcome mdevsim(const std::string& args) { return mdevsim::testing::run_cli(args); }

std::string quickstart() { return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/quickstart.json"; }

// A fresh, empty directory for one test's sweep output.
std::string out_dir(const std::string& name) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("sweep-" + name + "." + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir.string();
}

using mdevsim::testing::slurp;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

// Small and fast: every point of quickstart takes well under a second.
const std::string kTwoByTwo =
    " --vary link.bandwidth=25Gbit/s,100Gbit/s --vary migration.downtime_limit=100ms,300ms";

TEST(CmdSweep, TwoByTwoGivesFourPointsWithTheirParamsFirstVarySlowest) {
  const std::string dir = out_dir("2x2");
  const Outcome r = mdevsim("sweep " + quickstart() + kTwoByTwo + " --jobs 2 --out " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ran        4 now, 0 already recorded"), std::string::npos) << r.out;

  const auto csv = lines_of(slurp(fs::path(dir) / "results.csv"));
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0],
            "point,link.bandwidth,migration.downtime_limit,outcome,converged,switchover,iterations,"
            "downtime_s,total_time_s,ram_bytes,device_bytes,total_bytes,verification_passed,"
            "postcopy_faults,postcopy_stall_p99_s,postcopy_risk_window_s,reason");
  const char* expected_params[] = {"0,25Gbit/s,100ms,", "1,25Gbit/s,300ms,", "2,100Gbit/s,100ms,",
                                   "3,100Gbit/s,300ms,"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(csv[i + 1].rfind(expected_params[i], 0), 0u) << csv[i + 1];
    EXPECT_NE(csv[i + 1].find(",completed,true,"), std::string::npos) << csv[i + 1];
  }

  const auto jsonl = lines_of(slurp(fs::path(dir) / "results.jsonl"));
  ASSERT_EQ(jsonl.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const auto line = nlohmann::json::parse(jsonl[i]);
    EXPECT_EQ(line["point"], i);
    EXPECT_EQ(line["exit_code"], 0);
    EXPECT_EQ(line["result"]["schema"], "mdevsim.result/1");
    EXPECT_TRUE(line["error"].is_null());
  }
  EXPECT_EQ(
      nlohmann::json::parse(jsonl[2])["params"],
      (nlohmann::json{{"link.bandwidth", "100Gbit/s"}, {"migration.downtime_limit", "100ms"}}));

  const std::string html = slurp(fs::path(dir) / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "no scripts";
  EXPECT_EQ(html.find("src="), std::string::npos) << "nothing loaded from elsewhere";
  EXPECT_FALSE(fs::exists(fs::path(dir) / ".points")) << "scratch files are cleaned up";
}

TEST(CmdSweep, EachPointEqualsADirectRunOfTheSameOverrides) {
  const std::string dir = out_dir("direct");
  ASSERT_EQ(mdevsim("sweep " + quickstart() + kTwoByTwo + " --out " + dir).code, 0);
  const auto jsonl = lines_of(slurp(fs::path(dir) / "results.jsonl"));
  ASSERT_EQ(jsonl.size(), 4u);
  for (size_t point : {0u, 3u}) {
    const auto line = nlohmann::json::parse(jsonl[point]);
    const Outcome direct =
        mdevsim("run " + quickstart() +
                " --set link.bandwidth=" + line["params"]["link.bandwidth"].get<std::string>() +
                " --set migration.downtime_limit=" +
                line["params"]["migration.downtime_limit"].get<std::string>() + " --json -");
    ASSERT_EQ(direct.code, 0) << direct.err;
    const auto result = nlohmann::json::parse(direct.out);
    EXPECT_EQ(line["result"]["downtime_s"], result["downtime_s"]) << "point " << point;
    EXPECT_EQ(line["result"], result) << "point " << point;
  }
}

TEST(CmdSweep, JobsDoNotChangeTheResults) {
  const std::string one = out_dir("jobs1"), two = out_dir("jobs2");
  ASSERT_EQ(mdevsim("sweep " + quickstart() + kTwoByTwo + " --jobs 1 --out " + one).code, 0);
  ASSERT_EQ(mdevsim("sweep " + quickstart() + kTwoByTwo + " --jobs 2 --out " + two).code, 0);
  const std::string csv = slurp(fs::path(one) / "results.csv");
  EXPECT_FALSE(csv.empty());
  EXPECT_EQ(csv, slurp(fs::path(two) / "results.csv"));
  EXPECT_EQ(slurp(fs::path(one) / "results.jsonl"), slurp(fs::path(two) / "results.jsonl"));
}

TEST(CmdSweep, ResumeRunsOnlyThePointsNotRecorded) {
  const std::string dir = out_dir("resume");
  const std::string cmd = "sweep " + quickstart() + kTwoByTwo + " --out " + dir;
  ASSERT_EQ(mdevsim(cmd).code, 0);
  const fs::path jsonl = fs::path(dir) / "results.jsonl";
  const std::string full = slurp(jsonl);
  const std::string csv = slurp(fs::path(dir) / "results.csv");
  auto lines = lines_of(full);
  ASSERT_EQ(lines.size(), 4u);
  {
    std::ofstream cut(jsonl, std::ios::trunc);
    for (size_t i = 0; i + 1 < lines.size(); ++i) cut << lines[i] << '\n';
    cut << lines.back().substr(0, 40);  // a line cut short, as by a kill mid-write
  }
  const Outcome again = mdevsim(cmd);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("ran        1 now, 3 already recorded"), std::string::npos) << again.out;
  EXPECT_EQ(slurp(jsonl), full);
  EXPECT_EQ(slurp(fs::path(dir) / "results.csv"), csv);

  const Outcome nothing_left = mdevsim(cmd);
  EXPECT_EQ(nothing_left.code, 0);
  EXPECT_NE(nothing_left.out.find("ran        0 now, 4 already recorded"), std::string::npos)
      << nothing_left.out;
}

TEST(CmdSweep, ADifferentSweepInTheSameDirectoryIsRefusedUnlessFresh) {
  const std::string dir = out_dir("mismatch");
  ASSERT_EQ(
      mdevsim("sweep " + quickstart() + " --vary migration.downtime_limit=100ms,300ms --out " + dir)
          .code,
      0);
  const std::string other =
      "sweep " + quickstart() + " --vary migration.downtime_limit=200ms --out " + dir;
  const Outcome refused = mdevsim(other);
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("mdevsim sweep: "), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("different sweep"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--fresh"), std::string::npos) << refused.err;
  EXPECT_EQ(lines_of(slurp(fs::path(dir) / "results.jsonl")).size(), 2u) << "left untouched";

  const Outcome with_set =
      mdevsim("sweep " + quickstart() +
              " --vary migration.downtime_limit=100ms,300ms --set seed=2 --out " + dir);
  EXPECT_EQ(with_set.code, 2) << "a different --set is a different sweep";

  const Outcome fresh = mdevsim(other + " --fresh");
  EXPECT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(lines_of(slurp(fs::path(dir) / "results.jsonl")).size(), 1u);
}

TEST(CmdSweep, BadVaryIsRefusedBeforeAnythingRuns) {
  const std::string dir = out_dir("badvary");
  const Outcome bad_path =
      mdevsim("sweep " + quickstart() + " --vary link.bandwdth=10Gbit/s,25Gbit/s --out " + dir);
  EXPECT_EQ(bad_path.code, 2);
  EXPECT_NE(bad_path.err.find("--vary link.bandwdth"), std::string::npos) << bad_path.err;
  EXPECT_NE(bad_path.err.find("unknown key"), std::string::npos) << bad_path.err;
  EXPECT_FALSE(fs::exists(dir)) << "nothing is written for a sweep that cannot run";

  // Only the second value of the second --vary is wrong: still refused up front.
  const Outcome bad_value = mdevsim("sweep " + quickstart() +
                                    " --vary link.bandwidth=25Gbit/s --vary "
                                    "migration.downtime_limit=300ms,soon --out " +
                                    dir);
  EXPECT_EQ(bad_value.code, 2);
  EXPECT_NE(bad_value.err.find("--vary migration.downtime_limit: value 'soon'"), std::string::npos)
      << bad_value.err;
  EXPECT_FALSE(fs::exists(dir));
}

TEST(CmdSweep, BadOptionsExitTwoAndHelpTeaches) {
  const std::string q = quickstart();
  for (const std::string& args : std::vector<std::string>{
           "sweep", "sweep " + q, "sweep " + q + " --vary", "sweep " + q + " --vary seed",
           "sweep " + q + " --vary seed=1,,2", "sweep " + q + " --vary seed=1,1",
           "sweep " + q + " --vary seed=1,2 --jobs 0", "sweep " + q + " --vary seed=1 --jobs x",
           "sweep " + q + " --vary seed=1 --vary seed=2",
           "sweep " + q + " --vary seed=1 --set seed=2",
           "sweep " + q + " --vary seed=1 --frobnicate", "sweep /no/such.json --vary seed=1"}) {
    const Outcome r = mdevsim(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err.rfind("mdevsim sweep: ", 0), 0u) << args << ": " << r.err;
  }
  const Outcome help = mdevsim("sweep --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("--vary PATH=V1,V2"), std::string::npos);
  EXPECT_NE(help.out.find("Examples:"), std::string::npos);
}

TEST(CmdSweep, InterruptKeepsFinishedPointsAndExits130) {
  const std::string dir = out_dir("sigint");
  std::string seeds;
  for (int s = 1; s <= 60; ++s) seeds += (s > 1 ? "," : "") + std::to_string(s);
  const std::string binary = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim";
  const std::string q = quickstart(), vary = "seed=" + seeds;
  const std::string err_path = dir + ".err";
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(open("/dev/null", O_WRONLY), 1);
    dup2(open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    execl(binary.c_str(), "mdevsim", "sweep", q.c_str(), "--vary", vary.c_str(), "--jobs", "1",
          "--out", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once the first point is recorded.
  const fs::path jsonl = fs::path(dir) / "results.jsonl";
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (lines_of(slurp(jsonl)).empty() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  const auto lines = lines_of(slurp(jsonl));
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LT(lines.size(), 60u) << "interrupted well before the end";
  for (const auto& line : lines) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  EXPECT_EQ(lines_of(slurp(fs::path(dir) / "results.csv")).size(), lines.size() + 1);
  const std::string err = slurp(err_path);
  EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
  EXPECT_NE(err.find("run again"), std::string::npos) << err;
}

// Modes side by side: post-copy points fill the post-copy columns, the
// pre-copy point leaves them empty.
TEST(CmdSweep, ModesSideBySideFillThePostcopyColumns) {
  const std::string dir = ::testing::TempDir() + "/sweep-modes-" + std::to_string(getpid());
  fs::remove_all(dir);
  const Outcome r =
      mdevsim("sweep " + std::string(MDEVSIM_SOURCE_DIR) +
              "/scenarios/postcopy-write-heavy.json --set migration.on_no_convergence=force "
              "--vary migration.mode=precopy,postcopy --jobs 2 --out " +
              dir);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto csv = lines_of(slurp(fs::path(dir) / "results.csv"));
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[1].rfind("0,precopy,completed,false,", 0), 0u) << csv[1];
  EXPECT_NE(csv[1].find(",true,,,,"), std::string::npos) << "no post-copy figures: " << csv[1];
  // switchover sits between converged and iterations.
  EXPECT_EQ(csv[2].rfind("1,postcopy,completed,false,postcopy,0,", 0), 0u) << csv[2];
  EXPECT_EQ(csv[2].find(",true,,,,"), std::string::npos) << "post-copy figures present: " << csv[2];
  fs::remove_all(dir);
}

}  // namespace
