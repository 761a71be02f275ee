// Issue 13's "speed with everything resident": a 16 GiB VRAM (64 KiB pages)
// and 16 GiB RAM (4 KiB pages), both 100% resident, 25 Gbit/s, 2 GiB/s of
// hot-set device writes and 200 MiB/s of uniform guest writes, migrated by
// the mdevsim binary (goal: >= 100 simulated s per wall s, peak RSS <= 1 GiB),
// against the same migration with nothing resident in the same run (the
// baseline). The scenarios are written to /tmp; mdevsim runs as its own
// process (SystemC elaborates once per process) and its peak RSS is the
// child's (wait4).
//
//   cmake --build build --target bench_resident && ./build/tests/bench/bench_resident
//   MDEVSIM_BENCH_BINARY=/work/main/build/mdevsim ./build/tests/bench/bench_resident
//     (the same benchmark timing another build's mdevsim)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <benchmark/benchmark.h>

namespace {

std::string scenario(bool resident) {
  const std::string r = resident ? R"(, "resident": "100%")" : "";
  return R"({ "name": "resident-16g-16g", "device": { "vram": "16GiB", "page_size": "64KiB")" + r +
         R"( }, "vm": { "ram": "16GiB")" + r +
         R"( }, "workload": { "kind": "hotset", "dirty_rate": "2GiB/s", "hot_fraction": 0.1 },)"
         R"( "guest": { "kind": "uniform", "dirty_rate": "200MiB/s" },)"
         R"( "link": { "bandwidth": "25Gbit/s" },)"
         R"( "migration": { "start_at": "0s", "max_iterations": 30, "on_no_convergence": "force" } })";
}

struct Run {
  double wall_s = 0, simulated_s = 0, peak_rss_mib = 0;
  bool ok = false;
};

Run run_mdevsim(const std::string& path) {
  const std::string json = path + ".result.json";
  Run r;
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    // $MDEVSIM_BENCH_BINARY: another build's mdevsim, timed the same way.
    const char* other = std::getenv("MDEVSIM_BENCH_BINARY");
    const char* binary = other && *other ? other : MDEVSIM_BINARY_DIR "/mdevsim";
    execl(binary, "mdevsim", "run", path.c_str(), "--json", json.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) return r;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024;  // KiB on Linux
  std::ifstream in(json);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str(), key = "\"total_time_s\":";
  const auto at = s.find(key);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos) return r;
  r.simulated_s = std::stod(s.substr(at + key.size()));
  r.ok = true;
  return r;
}

void BM_Resident16GiBVram16GiBRam(benchmark::State& state) {
  const std::string resident = "/tmp/mdevsim-bench-resident.json";
  const std::string empty = "/tmp/mdevsim-bench-resident-empty.json";
  std::ofstream(resident) << scenario(true);
  std::ofstream(empty) << scenario(false);
  Run full, base;
  double full_wall = 0, base_wall = 0;
  for (auto _ : state) {
    base = run_mdevsim(empty);
    full = run_mdevsim(resident);
    if (!base.ok || !full.ok) {
      state.SkipWithError("mdevsim run failed (see /tmp/mdevsim-bench-resident*.json)");
      return;
    }
    base_wall += base.wall_s;
    full_wall += full.wall_s;
    state.SetIterationTime(full.wall_s);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["sim_s_per_wall_s"] = full.simulated_s * n / full_wall;
  state.counters["simulated_s"] = full.simulated_s;
  state.counters["peak_rss_MiB"] = full.peak_rss_mib;
  state.counters["base_sim_s_per_wall_s"] = base.simulated_s * n / base_wall;
  state.counters["base_simulated_s"] = base.simulated_s;
  state.counters["base_peak_rss_MiB"] = base.peak_rss_mib;
}
BENCHMARK(BM_Resident16GiBVram16GiBRam)
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
