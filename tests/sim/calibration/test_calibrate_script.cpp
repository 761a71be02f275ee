// scripts/calibrate against a stand-in mdevsim whose downtime is a known
// line in device.resident, so the script's per-row runs, its use of the fit
// tool and its verdicts can be checked before the real keys exist.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace {

struct ScriptRun {
  int exit_code;
  std::string output;  // stdout and stderr
};

ScriptRun run(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A fake `mdevsim run ... --set device.resident=<N>B` printing downtime
// intercept + slope * N / 1e9 (the table's GB); or, with slope "refuse",
// mdevsim's exit 2.
std::string fake_mdevsim(const std::string& name, const std::string& intercept,
                         const std::string& slope) {
  const std::string path = ::testing::TempDir() + name + "." + std::to_string(getpid());
  std::ofstream f(path);
  f << "#!/bin/bash\n";
  if (slope == "refuse") {
    f << "echo 'mdevsim: x.json: /device/resident: unknown key' >&2; exit 2\n";
  } else {
    f << "for a in \"$@\"; do case $a in device.resident=*B) n=${a#device.resident=}; n=${n%B};; "
         "esac; done\n"
      << "echo \"{\\\"outcome\\\": \\\"completed\\\", \\\"downtime_s\\\": $(awk \"BEGIN{print "
      << intercept << " + " << slope << " * $n / 1e9}\")}\"\n";
  }
  f.close();
  chmod(path.c_str(), 0755);
  return path;
}

std::string calibrate(const std::string& mdevsim) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scripts/calibrate --mdevsim " + mdevsim + " --fit " +
         MDEVSIM_BINARY_DIR + "/mdevsim-calibration-fit";
}

TEST(CalibrateScript, ALineNearTheTableMeetsTheTargets) {
  // 0.8 s + 1.3 s/GB against the table's relative fit 0.839 s + 1.305 s/GB:
  // slope -0.4 %, intercept -4.7 %; worst row 2 GB: 3.4 s vs 4 s = -15 %.
  const ScriptRun r = run(calibrate(fake_mdevsim("fake-near", "0.8", "1.3")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("     2 GB       4.00 s    3.400 s   -15.0 %"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("VMware   0.839 s + 1.305 s/GB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mdevsim  0.800 s + 1.300 s/GB"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("intercept   -4.7 % (target 10 %): met"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("worst row  -15.0 % (target 25 %): met"), std::string::npos) << r.output;
}

TEST(CalibrateScript, AShallowLineMissesTheSlopeTarget) {
  // 0.8 s + 1.0 s/GB: slope (1.0 - 1.305)/1.305 = -23.4 %.
  const ScriptRun r = run(calibrate(fake_mdevsim("fake-shallow", "0.8", "1.0")));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("slope      -23.4 % (target 10 %): NOT met"), std::string::npos)
      << r.output;
}

TEST(CalibrateScript, ARefusedScenarioIsExit2WithMdevsimsMessage) {
  const ScriptRun r = run(calibrate(fake_mdevsim("fake-refuse", "0", "refuse")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/device/resident: unknown key"), std::string::npos) << r.output;
  const ScriptRun missing = run(calibrate("/nonexistent/mdevsim"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("--mdevsim /nonexistent/mdevsim: no such file"), std::string::npos)
      << missing.output;
}

}  // namespace
