// scripts/compare-qemu's verdicts, exit codes and help against a stand-in
// mdevsim whose QEMU and driver figures are known (no QEMU needed; the real
// comparison is test_compare_qemu.cpp, label qemu).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "script_run.h"

namespace {

using mdevsim::testing::ScriptRun;
using nlohmann::json;

ScriptRun run(const std::string& command) { return mdevsim::testing::run_script(command); }
std::string script() { return mdevsim::testing::compare_qemu_script(); }

// A stand-in mdevsim: qemu-migrate prints a QEMU result, run a driver result
// with `iterations` entries; both with the figures given.
std::string fake_mdevsim(const std::string& name, double qemu_total_s, int qemu_passes,
                         double run_total_s, int run_iterations, int qemu_exit = 0) {
  const std::string path = ::testing::TempDir() + name + "." + std::to_string(getpid());
  json iterations = json::array();
  for (int i = 0; i < run_iterations; ++i) iterations.push_back({{"index", i}});
  const json qemu = {{"outcome", "completed"},
                     {"total_time_s", qemu_total_s},
                     {"downtime_s", 0.25},
                     {"passes", qemu_passes},
                     {"bytes", {{"ram", 1200000}, {"device", 800000000}}},
                     {"driver", {{"version", "10.0.2"}}},
                     {"qemu",
                      {{"parameters", {{"max-bandwidth", 134217728}, {"downtime-limit", 300}}},
                       {"ram_precopy_bytes", 1100000},
                       {"ram_downtime_bytes", 0}}}};
  const json driver = {{"outcome", "completed"},
                       {"scenario", "fake"},
                       {"total_time_s", run_total_s},
                       {"downtime_s", 0.035},
                       {"bytes", {{"ram", 524288}, {"device", 790000000}}},
                       {"iterations", iterations}};
  std::ofstream f(path);
  f << "#!/bin/bash\n"
    << "echo \"$*\" >> " << path << ".args\n"
    << "case $1 in\n"
    << "qemu-migrate) "
    << (qemu_exit == 2 ? "echo 'QEMU 10.0 is not installed' >&2; exit 2;; "
                       : "echo '" + qemu.dump() + "';; ")
    << "run) [[ \"$*\" == *'link.rate_limit=134217728B/s'* && \"$*\" == "
       "*'migration.downtime_limit=300ms'* ]] || { echo 'limits not passed' >&2; exit 2; }\n"
    << "  echo '" << driver.dump() << "';;\n"
    << "esac\n";
  f.close();
  chmod(path.c_str(), 0755);
  return path;
}

std::string with_fake(const std::string& fake, const std::string& args = "") {
  return script() + " --mdevsim " + fake + " " + args;
}

TEST(CompareQemuScript, FiguresWithinTheTargetsPass) {
  // 5.8 s against 6.0 s: -3.3 %; 6 exact queries + 2 syncs against 9.
  const ScriptRun r = run(with_fake(fake_mdevsim("fake-near", 6.0, 9, 5.8, 6)));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("-3.3 %   15 %  PASS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("9           8           -1   ±1   PASS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verdict   PASS"), std::string::npos) << r.out;
}

TEST(CompareQemuScript, ATimeOffByMoreThan15PercentOrTwoPassesFails) {
  // 5.0 s against 6.0 s: -16.7 %.
  const ScriptRun slow = run(with_fake(fake_mdevsim("fake-slow", 6.0, 8, 5.0, 6)));
  EXPECT_EQ(slow.exit_code, 1) << slow.out << slow.err;
  EXPECT_NE(slow.out.find("-16.7 %   15 %  FAIL"), std::string::npos) << slow.out;
  // 3 iterations + 2 = 5 passes against 8.
  const ScriptRun few = run(with_fake(fake_mdevsim("fake-few", 6.0, 8, 5.9, 3), "--json"));
  EXPECT_EQ(few.exit_code, 1) << few.out << few.err;
  const json j = json::parse(few.out);
  EXPECT_FALSE(j.at("pass").get<bool>());
  EXPECT_EQ(j.at("mdevsim").at("passes").get<int>(), 5);
}

TEST(CompareQemuScript, SetGoesToBothSides) {
  const std::string fake = fake_mdevsim("fake-set", 6.0, 8, 5.9, 6);
  std::remove((fake + ".args").c_str());
  const ScriptRun r = run(with_fake(fake, "--runs 2 --set workload.dirty_rate=1MiB/s"));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream f(fake + ".args");
  std::string line;
  int qemu = 0, driver = 0;
  while (std::getline(f, line)) {
    EXPECT_NE(line.find("--set workload.dirty_rate=1MiB/s"), std::string::npos) << line;
    qemu += line.rfind("qemu-migrate ", 0) == 0;
    driver += line.rfind("run ", 0) == 0;
  }
  EXPECT_EQ(qemu, 2);  // --runs 2: two QEMU migrations, one driver run
  EXPECT_EQ(driver, 1);
}

TEST(CompareQemuScript, BadUsageAndARefusedRunAreExit2) {
  EXPECT_EQ(run(script() + " --runs 0").exit_code, 2);
  EXPECT_EQ(run(script() + " /nonexistent.json").exit_code, 2);
  const ScriptRun refused = run(with_fake(fake_mdevsim("fake-refuse", 6, 8, 6, 6, 2)));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("QEMU 10.0 is not installed"), std::string::npos) << refused.err;
  const ScriptRun help = run(script() + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("dirty-sync-count"), std::string::npos) << help.out;
}

}  // namespace
