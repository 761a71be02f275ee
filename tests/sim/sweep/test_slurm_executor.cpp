// `mdevsim sweep --executor slurm` on a real single-node Slurm cluster
// started for this test (tests/support/slurm_cluster.h): every point's record
// equals the local executor's byte for byte; a cancelled array task loses
// only its unfinished points, which a rerun (and only they) completes.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim_cli.h"
#include "slurm_cluster.h"

namespace {

namespace fs = std::filesystem;
using mdevsim::testing::run_cli;
using mdevsim::testing::SlurmCluster;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("slurm-" + name + "." + std::to_string(getpid()));
  fs::remove_all(dir);
  return dir;
}

// 50 points of about 0.05 s each.
const std::string kSweep = "sweep " + std::string(MDEVSIM_SOURCE_DIR) +
                           "/scenarios/bench/sweep-1g.json --vary seed=1,2,3,4,5,6,7,8,9,10 "
                           "--vary link.bandwidth=5Gbit/s,10Gbit/s,25Gbit/s,40Gbit/s,100Gbit/s";

pid_t start_in_background(const std::string& args, const fs::path& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(open("/dev/null", O_WRONLY), 1);
    dup2(open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    // exec: the signals the test sends go to mdevsim itself, not to a shell.
    execl("/bin/sh", "sh", "-c",
          ("exec " + std::string(MDEVSIM_BINARY_DIR) + "/mdevsim " + args).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

class SlurmExecutor : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = SlurmCluster::unavailable();
    if (!why.empty()) GTEST_SKIP() << "no Slurm cluster for this test: " << why;
    const std::string failed = cluster_.start(2);
    ASSERT_EQ(failed, "");
  }
  SlurmCluster cluster_;
};

TEST_F(SlurmExecutor, FiftyPointsEqualTheLocalExecutorsAndACancelledTaskIsRerunAlone) {
  const fs::path local = fresh_dir("local"), whole = fresh_dir("whole"), cut = fresh_dir("cut");
  const auto l = run_cli(kSweep + " --jobs 2 --out " + local.string());
  ASSERT_EQ(l.code, 0) << l.err;
  const std::string reference = read(local / "results.jsonl");
  ASSERT_EQ(count_lines(reference), 50u);

  const auto s = run_cli(kSweep + " --executor slurm --points-per-task 5 --out " + whole.string());
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("slurm job "), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("10 tasks of up to 5 points"), std::string::npos) << s.out;
  EXPECT_EQ(read(whole / "results.jsonl"), reference) << "every record byte for byte";
  EXPECT_EQ(read(whole / "results.csv"), read(local / "results.csv"));

  // One task at a time, ten points each; cancel task 1 once its first point is in.
  const std::string cmd =
      kSweep + " --executor slurm --points-per-task 10 --max-running 1 --out " + cut.string();
  const pid_t sweep = start_in_background(cmd, cut.string() + ".err");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string job;
  while (std::chrono::steady_clock::now() < give_up &&
         !fs::exists(cut / "points" / "point-10.exit")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  job = read(cut / "slurm" / "job");
  job = job.substr(0, job.find('\n'));
  ASSERT_FALSE(job.empty());
  SlurmCluster::shell("scancel " + job + "_1");
  int status = 0;
  waitpid(sweep, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << read(cut.string() + ".err");
  const std::string err = read(cut.string() + ".err");
  EXPECT_NE(err.find("array task " + job + "_1 ended CANCELLED"), std::string::npos) << err;
  EXPECT_NE(err.find((cut / "slurm" / (job + "_1.log")).string()), std::string::npos) << err;
  const size_t kept = count_lines(read(cut / "results.jsonl"));
  ASSERT_GE(kept, 41u) << "the other tasks and task 1's first point are recorded";
  ASSERT_LT(kept, 50u) << "task 1 was cancelled before its last point";

  const auto again = run_cli(cmd);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("ran        " + std::to_string(50 - kept) + " now, " +
                           std::to_string(kept) + " already recorded, 0 not run"),
            std::string::npos)
      << again.out;
  EXPECT_EQ(count_lines(read(cut / "slurm" / "points.txt")), 50 - kept)
      << "the rerun submitted only the missing points";
  EXPECT_EQ(read(cut / "results.jsonl"), reference);
}

TEST_F(SlurmExecutor, CtrlCCancelsTheArrayAndKeepsWhatFinished) {
  const fs::path dir = fresh_dir("sigint");
  const std::string cmd =
      kSweep + " --executor slurm --points-per-task 10 --max-running 1 --out " + dir.string();
  const pid_t sweep = start_in_background(cmd, dir.string() + ".err");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < give_up && !fs::exists(dir / "points" / "point-0.exit"))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(sweep, SIGINT);
  int status = 0;
  waitpid(sweep, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read(dir.string() + ".err");
  std::string job = read(dir / "slurm" / "job");
  job = job.substr(0, job.find('\n'));
  EXPECT_EQ(SlurmCluster::shell("squeue -h -r -j " + job + " -t PENDING,RUNNING -o %i"), "")
      << "scancel left no task of job " << job << " waiting or running";
  const size_t kept = count_lines(read(dir / "results.jsonl"));
  EXPECT_GE(kept, 1u);
  EXPECT_LT(kept, 50u);
  EXPECT_NE(read(dir.string() + ".err").find("run again"), std::string::npos);
}

TEST(SlurmExecutorOptions, MisuseIsRefusedWithExitTwo) {
  const std::string q = std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/quickstart.json";
  for (const std::string& args : std::vector<std::string>{
           "--vary seed=1,2 --executor cloud", "--vary seed=1,2 --points-per-task 3",
           "--vary seed=1,2 --executor slurm --jobs 2",
           "--vary seed=1,2 --executor slurm --points-per-task 0",
           "--vary seed=1,2 --executor slurm --max-running x",
           "--vary seed=1,2 --emit-jobs a --collect b",
           "--vary seed=1,2 --emit-jobs a --executor slurm"}) {
    const auto r = run_cli("sweep " + q + " " + args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err.rfind("mdevsim sweep: ", 0), 0u) << args << ": " << r.err;
  }
}

}  // namespace
