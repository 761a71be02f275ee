// SimGrid 3.32's live-migration plugin on issue 13's RAM-only migration
// (16 GiB RAM, 200 MiB/s dirtying, 25 Gbit/s, 30 ms): its simulated
// migration time beside the fluid pre-copy model's, and SimGrid's wall time —
// the baseline the "mdevsim within 10x of SimGrid" goal is measured
// against. Built only when CMake finds SimGrid (pkg-config simgrid).
//
//   ./build/tests/bench/bench_simgrid
//
//   MDEVSIM_BENCH_BINARY=/work/main/build/mdevsim ./build/tests/bench/bench_simgrid
//     (the same benchmark timing another build's mdevsim)
//
// Each iteration runs SimGrid in a forked child (its engine cannot restart);
// the reported time is the child's engine run (manual time), not the fork.
#include <chrono>
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "mdevsim/calibration/fluid_precopy.h"
#include "simgrid_ram_migration.h"

namespace {

namespace sg = mdevsim::calibration::simgrid_reference;
using mdevsim::calibration::fluid_precopy;

void run_simgrid(benchmark::State& state, bool ideal_link) {
  sg::RamMigration m;
  m.ideal_link = ideal_link;
  double simulated_s = 0;
  for (auto _ : state) {
    std::string error;
    const auto r = sg::run(m, &error);
    if (!r) {
      state.SkipWithError(error.c_str());
      return;
    }
    simulated_s = r->migration_time_s;
    state.SetIterationTime(r->wall_time_s);
  }
  const double rate = ideal_link ? m.link_Bps : m.link_Bps * sg::kLv08FlowShare;
  const double fluid_s = fluid_precopy({.resident_bytes = m.ram_bytes,
                                        .dirty_rate_Bps = m.dirty_rate_Bps,
                                        .bandwidth_Bps = rate,
                                        .downtime_limit_s = 0.030})
                             .total_time_s;
  state.counters["simulated_s"] = simulated_s;
  state.counters["fluid_s"] = fluid_s;
  state.counters["sim_s_per_wall_s"] =
      benchmark::Counter(simulated_s * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_SimGridRamOnlyIdealLink(benchmark::State& state) { run_simgrid(state, true); }
void BM_SimGridRamOnlyDefaultNetwork(benchmark::State& state) { run_simgrid(state, false); }
BENCHMARK(BM_SimGridRamOnlyIdealLink)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimGridRamOnlyDefaultNetwork)->UseManualTime()->Unit(benchmark::kMillisecond);

void BM_FluidModelRamOnly(benchmark::State& state) {
  const sg::RamMigration m;
  for (auto _ : state)
    benchmark::DoNotOptimize(fluid_precopy({.resident_bytes = m.ram_bytes,
                                            .dirty_rate_Bps = m.dirty_rate_Bps,
                                            .bandwidth_Bps = m.link_Bps,
                                            .downtime_limit_s = 0.030}));
}
BENCHMARK(BM_FluidModelRamOnly);

// Issue 13's goal (mdevsim within 10x of SimGrid): the same migration
// (scenarios/calibration/ram-only-simgrid.json) run by the mdevsim binary,
// its whole process timed, against SimGrid's engine run measured in the same
// iteration (the baseline). mdevsim runs as its own process: SystemC
// elaborates once per process.
//
// Counters: mdevsim_ms / mdevsim_over_simgrid are the whole process (start-up
// included). startup_ms is the same binary on the same scenario shrunk to
// 16 MiB of RAM (process start, SystemC elaboration, scenario load, a
// migration of 4096 pages), run in the same iteration; migration_ms =
// mdevsim_ms - startup_ms and migration_over_simgrid compare only the part
// that scales with the migration (SimGrid's figure is its engine run, which
// has no start-up either).
// The binary timed: this build's, or $MDEVSIM_BENCH_BINARY (another build's
// mdevsim, e.g. main's, measured by the same benchmark in the same way).
std::string mdevsim_binary() {
  const char* other = std::getenv("MDEVSIM_BENCH_BINARY");
  return other && *other ? other : std::string(MDEVSIM_BINARY_DIR) + "/mdevsim";
}

double time_command(const std::string& command) {
  const auto t0 = std::chrono::steady_clock::now();
  if (std::system(command.c_str()) != 0) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_MdevsimOverSimGridRamOnly(benchmark::State& state) {
  sg::RamMigration m;
  m.ideal_link = true;
  const std::string run = mdevsim_binary() + " run " + MDEVSIM_SOURCE_DIR +
                          "/scenarios/calibration/ram-only-simgrid.json";
  const std::string command = run + " > /dev/null";
  const std::string tiny = run + " --set vm.ram=16MiB > /dev/null";
  double simgrid_s = 0, mdevsim_s = 0, startup_s = 0;
  for (auto _ : state) {
    std::string error;
    const auto r = sg::run(m, &error);
    if (!r) {
      state.SkipWithError(error.c_str());
      return;
    }
    const double startup = time_command(tiny);
    const double wall = time_command(command);
    if (startup < 0 || wall < 0) {
      state.SkipWithError(("failed: " + (startup < 0 ? tiny : command)).c_str());
      return;
    }
    simgrid_s += r->wall_time_s;
    mdevsim_s += wall;
    startup_s += startup;
    state.SetIterationTime(wall);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["simgrid_ms"] = simgrid_s / n * 1e3;
  state.counters["mdevsim_ms"] = mdevsim_s / n * 1e3;
  state.counters["mdevsim_over_simgrid"] = mdevsim_s / simgrid_s;
  state.counters["startup_ms"] = startup_s / n * 1e3;
  state.counters["migration_ms"] = (mdevsim_s - startup_s) / n * 1e3;
  state.counters["migration_over_simgrid"] = (mdevsim_s - startup_s) / simgrid_s;
}
BENCHMARK(BM_MdevsimOverSimGridRamOnly)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
