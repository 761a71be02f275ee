// `mdevsim sweep --emit-jobs FILE` run by GNU parallel, then `--collect`:
// the records equal the local executor's byte for byte; after parallel is
// killed mid-run, its own --resume (and a fresh --emit-jobs) run exactly the
// points without a result.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "mdevsim_cli.h"

namespace {

namespace fs = std::filesystem;
using mdevsim::testing::run_cli;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

size_t count_files(const fs::path& dir, const std::string& suffix) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) n += e.path().string().ends_with(suffix);
  return n;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("joblist-" + name + "." + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}

const std::string kSweep = "sweep " + std::string(MDEVSIM_SOURCE_DIR) +
                           "/scenarios/bench/sweep-1g.json --vary seed=1,2,3,4,5,6,7,8,9,10 "
                           "--vary link.bandwidth=5Gbit/s,10Gbit/s,25Gbit/s,40Gbit/s,100Gbit/s";

bool have_parallel() { return system("parallel --version >/dev/null 2>&1") == 0; }

TEST(JobList, EmittedJobsRunByParallelThenCollectedEqualTheLocalExecutor) {
  if (!have_parallel()) GTEST_SKIP() << "GNU parallel is not installed (scripts/install-deps)";
  const fs::path local = fresh_dir("local"), dir = fresh_dir("parallel");
  ASSERT_EQ(run_cli(kSweep + " --jobs 2 --out " + local.string()).code, 0);
  const fs::path jobs = dir / "jobs.txt";
  const auto emitted = run_cli(kSweep + " --out " + dir.string() + " --emit-jobs " + jobs.string());
  ASSERT_EQ(emitted.code, 0) << emitted.err;
  EXPECT_NE(emitted.out.find("50 commands in"), std::string::npos) << emitted.out;
  ASSERT_EQ(count_lines(read(jobs)), 50u);
  EXPECT_EQ(read(jobs).find(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/"), std::string::npos)
      << "the commands run the staged scenario, not the source tree's";

  ASSERT_EQ(
      system(
          ("parallel -j2 --joblog " + (dir / "joblog").string() + " < " + jobs.string()).c_str()),
      0);
  const auto collected =
      run_cli(kSweep + " --out " + dir.string() + " --collect " + (dir / "points").string());
  ASSERT_EQ(collected.code, 0) << collected.err;
  EXPECT_NE(collected.out.find("ran        50 now, 0 already recorded, 0 not run"),
            std::string::npos)
      << collected.out;
  EXPECT_EQ(read(dir / "results.jsonl"), read(local / "results.jsonl"));
  EXPECT_EQ(read(dir / "results.csv"), read(local / "results.csv"));
}

TEST(JobList, AKilledParallelLeavesOnlyTheMissingPointsForItsResume) {
  if (!have_parallel()) GTEST_SKIP() << "GNU parallel is not installed (scripts/install-deps)";
  const fs::path local = fresh_dir("local2"), dir = fresh_dir("killed");
  ASSERT_EQ(run_cli(kSweep + " --jobs 2 --out " + local.string()).code, 0);
  const fs::path jobs = dir / "jobs.txt", joblog = dir / "joblog";
  ASSERT_EQ(run_cli(kSweep + " --out " + dir.string() + " --emit-jobs " + jobs.string()).code, 0);
  const std::string run = "parallel -j2 --joblog " + joblog.string() + " --resume < " +
                          jobs.string() + " >/dev/null 2>&1";
  // parallel and its jobs in a process group of their own, killed as one.
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", run.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_files(dir / "points", ".exit") < 10 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);

  const std::string collect =
      kSweep + " --out " + dir.string() + " --collect " + (dir / "points").string();
  const auto partial = run_cli(collect);
  EXPECT_EQ(partial.code, 1) << "incomplete: " << partial.out;
  const size_t kept = count_lines(read(dir / "results.jsonl"));
  ASSERT_GE(kept, 10u);
  ASSERT_LT(kept, 50u);
  const auto again =
      run_cli(kSweep + " --out " + dir.string() + " --emit-jobs " + (dir / "rest.txt").string());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(count_lines(read(dir / "rest.txt")), 50 - kept) << "only the points without a result";

  ASSERT_EQ(system(run.c_str()), 0) << "parallel --resume runs what its joblog lacks";
  const auto done = run_cli(collect);
  ASSERT_EQ(done.code, 0) << done.err;
  EXPECT_NE(done.out.find("ran        " + std::to_string(50 - kept) + " now, " +
                          std::to_string(kept) + " already recorded, 0 not run"),
            std::string::npos)
      << done.out;
  EXPECT_EQ(read(dir / "results.jsonl"), read(local / "results.jsonl"));
}

// A scenario that names its protocol by a relative path: the job list's
// commands read the staged copies, so they run with the originals gone.
TEST(JobList, TheScenarioAndTheFilesItRefersToAreStagedBesideTheResults) {
  const fs::path src = fresh_dir("src"), dir = fresh_dir("staged");
  fs::create_directories(src / "protocols");
  fs::copy_file(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/protocols/v2-postcopy.json",
                src / "protocols" / "mine.json");
  std::string scenario = read(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/bench/sweep-1g.json");
  scenario.replace(scenario.find("\"device\": {"), 11,
                   "\"device\": { \"protocol\": \"protocols/mine.json\",");
  std::ofstream(src / "s.json") << scenario;
  const std::string sweep =
      "sweep " + (src / "s.json").string() + " --vary seed=1,2 --out " + dir.string();
  const auto emitted = run_cli(sweep + " --emit-jobs " + (dir / "jobs.txt").string());
  ASSERT_EQ(emitted.code, 0) << emitted.err;
  EXPECT_EQ(read(dir / "staged" / "s.json"), scenario);
  EXPECT_EQ(read(dir / "staged" / "protocols" / "mine.json"),
            read(src / "protocols" / "mine.json"));
  fs::remove_all(src);
  ASSERT_EQ(system(("sh " + (dir / "jobs.txt").string()).c_str()), 0);
  EXPECT_EQ(read(dir / "points" / "point-1.exit"), "0\n") << read(dir / "points" / "point-1.err");
  // --collect needs the scenario only to check the sweep's definition; put it back.
  fs::create_directories(src / "protocols");
  fs::copy_file(dir / "staged" / "s.json", src / "s.json");
  fs::copy_file(dir / "staged" / "protocols" / "mine.json", src / "protocols" / "mine.json");
  const auto collected = run_cli(sweep + " --collect " + (dir / "points").string());
  EXPECT_EQ(collected.code, 0) << collected.err;
  EXPECT_NE(collected.out.find("ran        2 now"), std::string::npos) << collected.out;
}

}  // namespace
