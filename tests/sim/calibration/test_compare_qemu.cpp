// scripts/compare-qemu: mdevsim's QEMU loop against a real QEMU 10.0 on
// scenarios/calibration/qemu10-rate-limited.json (ctest label qemu; skips
// without QEMU 10.0 or the interposer). The script's verdicts against a
// stand-in mdevsim are in test_compare_qemu_script.cpp.
#include <unistd.h>

#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "script_run.h"

namespace {

using mdevsim::testing::run_script;
using mdevsim::testing::ScriptRun;
using nlohmann::json;

std::string interposer() {
  return std::string(MDEVSIM_BINARY_DIR) + "/vfio_host/libmdevsim-vfio-host.so";
}

// Why the real comparison cannot run here, or "".
std::string missing_qemu10() {
  if (::access(interposer().c_str(), R_OK) != 0)
    return "the interposer is not built (" + interposer() + ")";
  const ScriptRun v = run_script("/usr/bin/qemu-system-x86_64 --version");
  if (v.exit_code != 0) return "QEMU 10.0 is not installed (scripts/install-deps)";
  if (v.out.find("version 10.0") == std::string::npos)
    return "/usr/bin/qemu-system-x86_64 is not QEMU 10.0: " + v.out.substr(0, v.out.find('\n'));
  return "";
}

double relative(const json& qemu, const json& ours, const char* key) {
  const double q = qemu.at(key).get<double>(), d = ours.at(key).get<double>();
  return (d - q) / q;
}

// Issue 13's targets, recomputed from the figures (not the script's
// verdicts): total time and bytes within 15 %, passes within 1. Three QEMU
// runs, each figure their median: a single run's dirty-sync-count varies by
// one or two (docs/calibration.md), about 7 s of wall time per run.
TEST(CompareQemu, Qemu10AtItsDefaultRateLimitMatchesTheQemuLoop) {
  const std::string why = missing_qemu10();
  if (!why.empty()) GTEST_SKIP() << why;
  const ScriptRun r = run_script(mdevsim::testing::compare_qemu_script() +
                                 " --runs 3 --json --mdevsim " + MDEVSIM_BINARY_DIR + "/mdevsim");
  ASSERT_NE(r.exit_code, 2) << r.err;
  const json j = json::parse(r.out);
  const json &q = j.at("qemu"), &d = j.at("mdevsim");
  // The rate limit is QEMU's own default (MAX_THROTTLE, 128 << 20 B/s) and
  // so is the downtime limit (300 ms): both sides ran at them.
  EXPECT_EQ(j.at("max_bandwidth").get<uint64_t>(), uint64_t{128} << 20);
  EXPECT_EQ(j.at("downtime_limit_ms").get<int>(), 300);
  EXPECT_EQ(j.at("qemu_version").get<std::string>().rfind("10.0", 0), 0u);
  // Device-dominated: both sent at least the 512 MiB resident VRAM, and the
  // device is nearly all of the stream.
  for (const json* side : {&q, &d}) {
    EXPECT_GE(side->at("device_bytes").get<double>(), 512.0 * (1 << 20)) << side->dump();
    EXPECT_GT(side->at("device_bytes").get<double>(), 0.99 * side->at("total_bytes").get<double>());
  }
  EXPECT_LE(std::abs(relative(q, d, "total_time_s")), 0.15) << r.out;
  EXPECT_LE(std::abs(relative(q, d, "total_bytes")), 0.15) << r.out;
  EXPECT_LE(std::abs(relative(q, d, "device_bytes")), 0.15) << r.out;
  EXPECT_LE(std::abs(q.at("passes").get<double>() - d.at("passes").get<double>()), 1.0) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
