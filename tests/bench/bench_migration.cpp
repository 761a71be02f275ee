// Full-system migration speed (issue 5 goal): scenarios/bench/16g-25gbit.json
// (16 GiB VRAM, 16 GiB RAM, 25 Gbit/s, 2 GiB/s hot-set device workload,
// 200 MiB/s of RAM dirtying). Run:
//   cmake --build build --target bench_migration && ./build/tests/bench/bench_migration
#include <chrono>
#include <fstream>
#include <string>

#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "mdevsim/sim/migration.h"
#include "mdevsim/sim/scenario.h"

namespace {

using mdevsim::bench::current_rss_bytes;
using mdevsim::bench::peak_rss_bytes;

// One migration per process (the SystemC kernel elaborates once).
void BM_Migrate16GiB25Gbit(benchmark::State& state) {
  const auto s = mdevsim::sim::load_scenario(std::string(MDEVSIM_SOURCE_DIR) +
                                             "/scenarios/bench/16g-25gbit.json");
  double sim_s = 0, wall_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = mdevsim::sim::run_migration(s, {});
    wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Simulated time covers the run-up, the migration and the verification run.
    sim_s = s.migration.start_at_s + r.total_time_s + s.migration.run_after_s;
    state.counters["downtime_ms"] = r.downtime_s * 1e3;
    state.counters["verified"] = r.verification.passed;
  }
  state.counters["sim_s_per_wall_s"] = sim_s / wall_s;
  state.counters["peak_rss_MiB"] = static_cast<double>(peak_rss_bytes()) / (1 << 20);
}
BENCHMARK(BM_Migrate16GiB25Gbit)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
