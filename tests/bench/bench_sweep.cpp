// `mdevsim sweep` throughput.
// - BM_Sweep200Points1GiBJobs2 (goal: 200 points of a 1 GiB-VRAM scenario in
//   under 60 s on 2 cores): scenarios/bench/sweep-1g.json over 10 link speeds
//   x 4 downtime limits x 5 seeds, --jobs 2. Measures the whole command:
//   validation, one child process per point, the files at the end.
// - BM_Slurm1000PointsVsLocal (goal: slurm_vs_local >= 0.5): 1000 points of
//   the same scenario through --executor slurm on a one-node cluster started
//   here (tests/support/slurm_cluster.h; needs root and slurm-wlm + munge)
//   and through the local executor with as many jobs as the node has CPUs.
// Run:
//   cmake --build build --target bench_sweep && ./build/tests/bench/bench_sweep
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <benchmark/benchmark.h>

#include "../support/slurm_cluster.h"

namespace {

namespace fs = std::filesystem;

constexpr int kPoints = 200;
constexpr const char* kVary =
    " --vary link.bandwidth=1Gbit/s,2Gbit/s,5Gbit/s,10Gbit/s,20Gbit/s,25Gbit/s,40Gbit/s,"
    "50Gbit/s,100Gbit/s,200Gbit/s"
    " --vary migration.downtime_limit=30ms,100ms,300ms,1s"
    " --vary seed=1,2,3,4,5";

int count_rows(const fs::path& csv) {
  std::ifstream in(csv);
  int rows = -1;  // the header
  for (std::string line; std::getline(in, line);) ++rows;
  return rows;
}

void BM_Sweep200Points1GiBJobs2(benchmark::State& state) {
  const fs::path out =
      fs::temp_directory_path() / ("mdevsim-bench-sweep." + std::to_string(getpid()));
  const std::string command = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim sweep " +
                              MDEVSIM_SOURCE_DIR + "/scenarios/bench/sweep-1g.json" + kVary +
                              " --jobs 2 --fresh --out " + out.string() + " > " + out.string() +
                              ".log 2>&1";
  double wall_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::ifstream log(out.string() + ".log");
      std::cerr << log.rdbuf();
      state.SkipWithError("mdevsim sweep failed");
      break;
    }
  }
  const int rows = count_rows(out / "results.csv");
  state.counters["points"] = rows;
  state.counters["s_per_point"] = wall_s / kPoints;
  state.counters["points_per_s"] = kPoints / wall_s;
  state.counters["under_60s"] = wall_s < 60 && rows == kPoints;
  fs::remove_all(out);
  fs::remove(out.string() + ".log");
}
BENCHMARK(BM_Sweep200Points1GiBJobs2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

// Seconds one sweep command takes, or a negative value when it fails.
double timed_sweep(const std::string& args, const fs::path& out) {
  const std::string command = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim sweep " +
                              MDEVSIM_SOURCE_DIR + "/scenarios/bench/sweep-1g.json" + args +
                              " --fresh --out " + out.string() + " > " + out.string() + ".log 2>&1";
  const auto t0 = std::chrono::steady_clock::now();
  const int status = std::system(command.c_str());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || count_rows(out / "results.csv") != 1000) {
    std::ifstream log(out.string() + ".log");
    std::cerr << command << "\n" << log.rdbuf();
    return -1;
  }
  return s;
}

void BM_Slurm1000PointsVsLocal(benchmark::State& state) {
  using mdevsim::testing::SlurmCluster;
  if (const std::string why = SlurmCluster::unavailable(); !why.empty()) {
    state.SkipWithError(("no Slurm cluster: " + why).c_str());
    return;
  }
  const unsigned cpus = static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  SlurmCluster cluster;
  if (const std::string failed = cluster.start(cpus); !failed.empty()) {
    state.SkipWithError(failed.c_str());
    return;
  }
  std::string seeds;
  for (int s = 1; s <= 100; ++s) seeds += (s > 1 ? "," : "") + std::to_string(s);
  const std::string vary = " --vary seed=" + seeds +
                           " --vary link.bandwidth=1Gbit/s,2Gbit/s,5Gbit/s,10Gbit/s,20Gbit/s,"
                           "25Gbit/s,40Gbit/s,50Gbit/s,100Gbit/s,200Gbit/s";
  const fs::path base =
      fs::temp_directory_path() / ("mdevsim-bench-slurm." + std::to_string(getpid()));
  const std::string per_task = std::to_string(state.range(0));
  double local_s = 0, slurm_s = 0;
  for (auto _ : state) {
    local_s = timed_sweep(vary + " --jobs " + std::to_string(cpus), base.string() + "-local");
    slurm_s = timed_sweep(vary + " --executor slurm --points-per-task " + per_task,
                          base.string() + "-slurm");
    if (local_s < 0 || slurm_s < 0) {
      state.SkipWithError("a sweep failed (its log is above)");
      break;
    }
  }
  state.counters["local_points_per_s"] = 1000 / local_s;
  state.counters["slurm_points_per_s"] = 1000 / slurm_s;
  state.counters["slurm_vs_local"] = local_s / slurm_s;
  for (const char* side : {"-local", "-slurm"}) {
    fs::remove_all(base.string() + side);
    fs::remove(base.string() + side + ".log");
  }
}
// The argument: --points-per-task (20 is the default).
BENCHMARK(BM_Slurm1000PointsVsLocal)
    ->Arg(20)
    ->Arg(50)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
