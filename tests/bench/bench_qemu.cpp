// QEMU 10.0 migrating a 1 GiB-VRAM simulated device over loopback tcp
// (mdevsim qemu-migrate): how fast the interposed device stream moves
// against QEMU's own RAM stream in the same migration, and how many
// interposed calls per second the host serves (QEMU 7.2 reading a v1 data
// section 8 bytes at a time). Skips without QEMU or the interposer.
//
//   cmake --build build --target bench_qemu mdevsim mdevsim_vfio_host
//   ./build/tests/bench/bench_qemu
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

namespace {

const std::string kBin = MDEVSIM_BINARY_DIR;

std::string temp(const std::string& name) {
  return "/tmp/bench_qemu." + std::to_string(getpid()) + "." + name;
}

// Runs mdevsim qemu-migrate; the result JSON, or null.
nlohmann::json qemu_migrate(const std::string& scenario_text, const std::string& args) {
  const std::string scenario = temp("scenario.json"), result = temp("result.json");
  std::ofstream(scenario) << scenario_text;
  const std::string cmd = kBin + "/mdevsim qemu-migrate " + scenario + " " + args + " --json " +
                          result + " >/dev/null 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(result);
  nlohmann::json j;
  if (rc >= 0 && rc != 2 * 256 && in) {  // 0 completed, 1 failed or cancelled: both write it
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
    }
  }
  std::remove(scenario.c_str());
  std::remove(result.c_str());
  return j;
}

bool available(benchmark::State& state, const std::string& qemu) {
  if (::access((kBin + "/vfio_host/libmdevsim-vfio-host.so").c_str(), R_OK) != 0) {
    state.SkipWithError("the interposer is not built (target mdevsim_vfio_host)");
    return false;
  }
  if (::access(qemu.c_str(), X_OK) != 0) {
    state.SkipWithError(("no " + qemu + " (scripts/install-deps)").c_str());
    return false;
  }
  return true;
}

// Source trace times: the stop-copy SET (t1), its first device read (t2),
// the read returning 0 (t3). QEMU sends the RAM left at stop first, then
// the device: t1..t2 is RAM, t2..t3 is device.
struct StopCopyTimes {
  double t1 = -1, t2 = -1, t3 = -1;
};
StopCopyTimes stop_copy_times(const std::string& trace) {
  StopCopyTimes t;
  std::ifstream in(trace);
  for (std::string l; std::getline(in, l);) {
    if (l.find(" src ") == std::string::npos) continue;
    const double at = std::stod(l);
    if (t.t1 < 0 && l.find("{device_state=STOP_COPY}) = 0") != std::string::npos) t.t1 = at;
    if (t.t1 >= 0 && l.find("src read(data:") != std::string::npos) {
      if (t.t2 < 0) t.t2 = at;
      if (l.find(") = 0 ") != std::string::npos) t.t3 = at;
    }
  }
  return t;
}

void BM_Qemu10Migrates1GiBVram(benchmark::State& state) {
  if (!available(state, "/usr/bin/qemu-system-x86_64")) return;
  // VRAM fully written before the migration, 256 MiB of guest RAM DMA-written;
  // STOP_COPY only, so the device stream is one stretch in stop-copy.
  const std::string scenario = R"({ "name": "bench-qemu-1gib",
    "device": { "vram": "1GiB", "page_size": "64KiB", "features": ["stop_copy", "p2p"],
                "dma_buffer": "256MiB" },
    "workload": { "kind": "streaming", "dirty_rate": "4GiB/s", "dma_rate": "512MiB/s" },
    "vm": { "ram": "1GiB" },
    "link": { "rate_limit": "100Gbit/s" },
    "migration": { "start_at": "500ms", "downtime_limit": "60s", "timeout": "300s" } })";
  for (auto _ : state) {
    const std::string trace = temp("trace.txt");
    const auto j = qemu_migrate(scenario, "--trace " + trace);
    if (j.is_null() || j["outcome"] != "completed") {
      state.SkipWithError("the migration did not complete");
      return;
    }
    const auto t = stop_copy_times(trace);
    std::remove(trace.c_str());
    const double device_bytes = j["bytes"]["device"].get<double>();
    const double ram_stop_bytes = j["qemu"]["ram_downtime_bytes"].get<double>();
    const double device_rate = t.t3 > t.t2 ? device_bytes / (t.t3 - t.t2) : 0;
    const double ram_rate = t.t2 > t.t1 ? ram_stop_bytes / (t.t2 - t.t1) : 0;
    state.counters["device_bytes"] = device_bytes;
    state.counters["device_MiB_per_s"] = device_rate / (1 << 20);
    state.counters["ram_stop_copy_bytes"] = ram_stop_bytes;
    state.counters["ram_MiB_per_s"] = ram_rate / (1 << 20);
    state.counters["device_over_ram"] = ram_rate > 0 ? device_rate / ram_rate : 0;
    state.counters["downtime_s"] = j["downtime_s"].get<double>();
    state.counters["verified"] = j["verification"]["passed"].get<bool>() ? 1 : 0;
  }
}
BENCHMARK(BM_Qemu10Migrates1GiBVram)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_Qemu72InterposedCallsPerSecond(benchmark::State& state) {
  const std::string q72 =
      std::string(MDEVSIM_SOURCE_DIR) + "/.deps/qemu-7.2/usr/bin/qemu-system-x86_64";
  if (!available(state, q72)) return;
  // 512 KiB of VRAM written once, then barely: about 64 k preads of 8 bytes
  // by QEMU's migration thread, back to back.
  const std::string scenario = R"({ "name": "bench-qemu-v1-calls",
    "device": { "vram": "512KiB", "page_size": "4KiB", "protocol": "v1" },
    "workload": { "kind": "phased", "phases": [
      { "duration": "150ms", "kind": "streaming", "dirty_rate": "4MiB/s" },
      { "duration": "100s", "kind": "uniform", "dirty_rate": "4KiB/s" } ] },
    "vm": { "ram": "256MiB" },
    "migration": { "start_at": "200ms", "timeout": "10s" } })";
  for (auto _ : state) {
    // Calls over the time QEMU was migrating, whether or not it converged
    // within the 10 s bound (the host's call rate is what is measured).
    const auto j = qemu_migrate(scenario, "--qemu 7.2");
    if (j.is_null() || j["qemu"]["samples"].empty()) {
      state.SkipWithError("the migration did not start");
      return;
    }
    const double calls = j["abi"]["calls"]["src"].get<double>();
    const double seconds = j["qemu"]["samples"].back()["t_s"].get<double>();
    state.counters["src_calls"] = calls;
    state.counters["migrating_s"] = seconds;
    state.counters["calls_per_s"] = seconds > 0 ? calls / seconds : 0;
    state.counters["completed"] = j["outcome"] == "completed" ? 1 : 0;
  }
}
BENCHMARK(BM_Qemu72InterposedCallsPerSecond)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
