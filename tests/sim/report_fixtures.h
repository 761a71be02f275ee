// Synthetic runs for the HTML report tests (test_report, test_report_browser):
// made by hand so the report can be tested without running a migration.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "mdevsim/sim/report.h"
#include "mdevsim/sim/result.h"
#include "mdevsim/sim/run_log.h"

namespace mdevsim::sim::report_fixtures {

constexpr uint64_t kMiB = 1 << 20;

struct SyntheticRun {
  Result result;
  RunLog log;
  ReportContext ctx;
};

// A converged 3-iteration v2 pre-copy run with P2P: switchover at 3.9 s,
// 45.3 ms of downtime against a 300 ms limit.
inline SyntheticRun precopy_v2() {
  SyntheticRun r;
  auto& res = r.result;
  res.scenario = "precopy-3";
  res.seed = 42;
  res.outcome = "completed";
  res.converged = true;
  res.total_time_s = 4.2;
  res.downtime_s = 0.0453;
  const uint64_t ram[] = {2048 * kMiB, 600 * kMiB, 120 * kMiB};
  const uint64_t dev[] = {1024 * kMiB, 300 * kMiB, 40 * kMiB};
  double t = 0.1;
  for (uint32_t i = 0; i < 3; ++i) {
    IterationResult it;
    it.index = i + 1;
    it.start_s = t;
    it.duration_s = i == 0 ? 2.5 : i == 1 ? 0.8 : 0.5;
    it.ram_bytes = ram[i];
    it.device_bytes = dev[i];
    it.ram_dirty_pages = 1000 >> i;
    it.bandwidth = 1.25e9;
    it.expected_downtime_s = 0.5 / (i + 1);
    res.iterations.push_back(it);
    t += it.duration_s;
  }
  res.stop_copy = StopCopyResult{20 * kMiB, 8 * kMiB, 0.002, 0.04, 0.0033};
  res.ram_bytes = 2788 * kMiB;
  res.device_bytes = 1372 * kMiB;
  res.verification = {true, true, 0, 0, 0, true, false, {}};
  res.abi_calls["ioctl VFIO_DEVICE_FEATURE"] = 12;

  auto& log = r.log;
  log.enabled = true;
  log.protocol = "v2";
  log.features = {"stop_copy", "p2p", "pre_copy"};
  const double times[] = {0.1, 2.6, 3.4, 3.9};
  const double remaining[] = {3.0e9, 9.0e8, 1.6e8, 2.9e7};
  const double dirty[] = {786432, 220000, 40000, 7000};
  for (int i = 0; i < 4; ++i) {
    log.counters.push_back({"remaining bytes", times[i], remaining[i]});
    log.counters.push_back({"dirty pages", times[i], dirty[i]});
  }
  log.switchover_s = 3.9;
  log.spans.push_back({"vm", "downtime", 3.9, 3.9453});
  using V = RunLog::StateVisit;
  log.states = {
      V{0, "src", "RUNNING"},         V{0, "dst", "RUNNING"},      V{0.05, "dst", "RUNNING_P2P"},
      V{0.05, "dst", "STOP"},         V{0.06, "dst", "RESUMING"},  V{0.1, "src", "PRE_COPY"},
      V{3.9, "src", "PRE_COPY_P2P"},  V{3.9, "src", "STOP_COPY"},  V{3.94, "dst", "STOP"},
      V{3.944, "dst", "RUNNING_P2P"}, V{3.9453, "dst", "RUNNING"}, V{3.95, "src", "STOP"}};

  r.ctx = ReportContext::from_v2(7);  // stop_copy | p2p | pre_copy
  r.ctx.downtime_limit_s = 0.3;
  r.ctx.link_bandwidth = 1.25e9;  // 10 Gbit/s
  return r;
}

// A post-copy run: 200 faults with stalls of 0.2..~5 ms, VRAM and RAM.
inline SyntheticRun postcopy() {
  SyntheticRun r = precopy_v2();
  r.result.scenario = "postcopy-faults";
  r.result.iterations.resize(1);
  r.result.postcopy = nlohmann::json{{"faults", 200}, {"pages_pushed", 4096}};
  uint32_t x = 12345;
  for (int i = 0; i < 200; ++i) {
    x = x * 1664525u + 1013904223u;  // deterministic spread
    const double stall = 0.0002 + (x >> 8) % 1000 * 1e-6 + (i % 50 == 0 ? 0.004 : 0);
    r.log.faults.push_back({3.95 + i * 0.001, stall, i % 3 ? "vram" : "ram", uint64_t(x % 65536)});
    r.log.counters.push_back({"faults", 3.95 + i * 0.001, double(i + 1)});
  }
  return r;
}

// Cancelled before any iteration, nothing logged, no protocol described.
inline SyntheticRun empty_run() {
  SyntheticRun r;
  r.result.scenario = "empty";
  r.result.outcome = "cancelled";
  r.result.reason = "link down at setup";
  return r;
}

}  // namespace mdevsim::sim::report_fixtures
