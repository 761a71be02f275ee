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
#include <filesystem>
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
nlohmann::json qemu_migrate(const std::string& scenario_text, const std::string& args,
                            const std::string& stderr_file = "/dev/null",
                            const std::string& env = "") {
  const std::string scenario = temp("scenario.json"), result = temp("result.json");
  std::ofstream(scenario) << scenario_text;
  const std::string cmd = env + " " + kBin + "/mdevsim qemu-migrate " + scenario + " " + args +
                          " --json " + result + " >/dev/null 2>" + stderr_file;
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

// mdevsim qemu-migrate with --keep: the result JSON and the work folder
// (each QEMU's report and trace), or a null result.
struct Kept {
  nlohmann::json result;
  std::string dir, trace;  // the work folder; both hosts' ABI trace
};
Kept qemu_migrate_kept(const std::string& scenario_text, const std::string& env) {
  const std::string err = temp("stderr.txt");
  Kept k;
  k.trace = temp("trace.txt");
  k.result = qemu_migrate(scenario_text, "--keep --trace " + k.trace, err, env);
  std::ifstream in(err);
  const std::string marker = "work folder kept: ";
  for (std::string l; std::getline(in, l);)
    if (const auto at = l.find(marker); at != std::string::npos)
      k.dir = l.substr(at + marker.size());
  std::remove(err.c_str());
  return k;
}

uint64_t count_lines(const std::string& file, const std::string& part) {
  std::ifstream in(file);
  uint64_t n = 0;
  for (std::string l; std::getline(in, l);) n += l.find(part) != std::string::npos;
  return n;
}

// Arg 1: the interposer's data-fd buffers (default); 0: MDEVSIM_VFIO_BUFFERS=0,
// a hand-off to the simulation thread per data-fd call (the earlier design).
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
  const bool buffers = state.range(0) != 0;
  for (auto _ : state) {
    const auto k = qemu_migrate_kept(scenario, buffers ? "" : "MDEVSIM_VFIO_BUFFERS=0");
    const auto& j = k.result;
    if (j.is_null() || j["outcome"] != "completed" || k.dir.empty()) {
      if (!k.dir.empty()) std::filesystem::remove_all(k.dir);
      state.SkipWithError("the migration did not complete");
      return;
    }
    // QEMU 10 stops a STOP_COPY-only device with the VM (SET STOP), sends the
    // RAM left, then enters STOP_COPY and reads the device: the RAM stretch is
    // device_stop..stop_copy, the device's first read..the read returning 0
    // (CLOCK_MONOTONIC times the source's interposer noted, report.h).
    std::ifstream rin(k.dir + "/src/report.json");
    const auto w = nlohmann::json::parse(rin)["devices"][0]["wall_ns"];
    const uint64_t dst_writes = count_lines(k.trace, " dst write(data:");
    std::filesystem::remove_all(k.dir);
    std::remove(k.trace.c_str());
    if (w["device_stop"].is_null() || w["stop_copy"].is_null() || w["save_end"].is_null()) {
      state.SkipWithError("the source report has no stop-copy times");
      return;
    }
    const double ram_s = (w["stop_copy"].get<double>() - w["device_stop"].get<double>()) / 1e9;
    const double dev_s =
        (w["save_end"].get<double>() - w["first_stop_copy_read"].get<double>()) / 1e9;
    const double device_bytes = j["bytes"]["device"].get<double>();
    const double ram_stop_bytes = j["qemu"]["ram_downtime_bytes"].get<double>();
    const double device_rate = dev_s > 0 ? device_bytes / dev_s : 0;
    const double ram_rate = ram_s > 0 ? ram_stop_bytes / ram_s : 0;
    state.counters["device_bytes"] = device_bytes;
    state.counters["device_MiB_per_s"] = device_rate / (1 << 20);
    state.counters["ram_stop_copy_bytes"] = ram_stop_bytes;
    state.counters["ram_MiB_per_s"] = ram_rate / (1 << 20);
    state.counters["device_over_ram"] = ram_rate > 0 ? device_rate / ram_rate : 0;
    // The destination's writes of the device stream (QEMU 10: 32 KiB each).
    state.counters["dst_writes_per_s"] = dev_s > 0 ? dst_writes / dev_s : 0;
    state.counters["downtime_s"] = j["downtime_s"].get<double>();
    state.counters["verified"] = j["verification"]["passed"].get<bool>() ? 1 : 0;
  }
}
BENCHMARK(BM_Qemu10Migrates1GiBVram)
    ->ArgName("buffers")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

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
