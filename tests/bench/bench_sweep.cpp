// `mdevsim sweep` throughput (issue goal: 200 points of a 1 GiB-VRAM scenario
// in under 60 s on 2 cores): scenarios/bench/sweep-1g.json over 10 link
// speeds x 4 downtime limits x 5 seeds, --jobs 2. Measures the whole command:
// validation, one child process per point, the files at the end. Run:
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

}  // namespace
