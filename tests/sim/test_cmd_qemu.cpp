// mdevsim qemu -- COMMAND: the fake sysfs node, its two hand-overs
// (MDEVSIM_SYSFSDEV, @SYSFSDEV@) and a real QEMU realizing the device
// (ctest label qemu; skipped without the interposer or QEMU).
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;

std::string interposer() {
  return std::string(MDEVSIM_BINARY_DIR) + "/vfio_host/libmdevsim-vfio-host.so";
}

TEST(CmdQemu, TheCommandGetsTheSysfsNodeAsVariableAndSubstitution) {
  if (::access(interposer().c_str(), R_OK) != 0)
    GTEST_SKIP() << "the interposer is not built (" << interposer() << ")";
  // The child is a shell: it prints the node both ways and what QEMU reads.
  const auto r = run_cli(
      "qemu -- sh -c 'echo \"$MDEVSIM_SYSFSDEV\"; echo @SYSFSDEV@; readlink "
      "@SYSFSDEV@/iommu_group; "
      "readlink @SYSFSDEV@/subsystem; exit 3'");
  EXPECT_EQ(r.code, 3) << "the command's exit code: " << r.err;
  std::istringstream lines(r.out);
  std::string env_path, arg_path, group, subsystem;
  std::getline(lines, env_path);
  std::getline(lines, arg_path);
  std::getline(lines, group);
  std::getline(lines, subsystem);
  EXPECT_EQ(env_path, arg_path);
  EXPECT_EQ(env_path.substr(env_path.rfind('/') + 1), "mdevsim0");
  const std::string root = env_path.substr(0, env_path.rfind("/devices/"));
  EXPECT_EQ(group, root + "/kernel/iommu_groups/42");
  EXPECT_EQ(subsystem, root + "/bus/mdev");
}

TEST(CmdQemu, BadInputIsExitTwo) {
  EXPECT_EQ(run_cli("qemu").code, 2);
  const auto r = run_cli("qemu --set device.vram=1GiB -- true");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--set needs --scenario"), std::string::npos) << r.err;
}

TEST(CmdQemu, Qemu10RealizesTheSimulatedDevice) {
  if (::access(interposer().c_str(), R_OK) != 0)
    GTEST_SKIP() << "the interposer is not built (" << interposer() << ")";
  if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
    GTEST_SKIP() << "QEMU is not installed (scripts/install-deps)";
  const std::string report =
      ::testing::TempDir() + "/cmd-qemu-report." + std::to_string(getpid()) + ".json";
  const std::string trace =
      ::testing::TempDir() + "/cmd-qemu-trace." + std::to_string(getpid()) + ".txt";
  // SIGINT after 2 s reaches QEMU through mdevsim, which forwards it. device-only
  // has no resident regions, so 16 MiB of VRAM is valid for it.
  const auto r = run_cli("qemu --scenario " + mdevsim::testing::scenario_path("device-only.json") +
                         " --set device.vram=16MiB --report " + report + " --trace " + trace +
                         " -- /usr/bin/qemu-system-x86_64 -machine q35 -accel tcg -nodefaults "
                         "-nographic -m 256M -serial none -monitor none "
                         "-device vfio-pci,addr=03.0,sysfsdev=@SYSFSDEV@ & "
                         "sleep 2; kill -INT $!; wait $!");
  // run_cli passes the line to a shell: `mdevsim qemu ... &` then kill -INT.
  std::ifstream in(report);
  ASSERT_TRUE(in.good()) << "no report: " << r.err;
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["devices"].size(), 1u) << j.dump();
  const auto& d = j["devices"][0];
  EXPECT_EQ(d["name"], "mdevsim0");
  EXPECT_EQ(d["protocol"], "v2");
  // QEMU 10.0 starts the VM: RUNNING -> RUNNING_P2P -> RUNNING.
  ASSERT_GE(d["arcs"].size(), 2u) << d.dump();
  EXPECT_EQ(d["arcs"][0], "RUNNING -> RUNNING_P2P");
  EXPECT_EQ(d["arcs"][1], "RUNNING_P2P -> RUNNING");
  std::ifstream t(trace);
  const std::string text((std::istreambuf_iterator<char>(t)), {});
  EXPECT_NE(text.find("VFIO_DEVICE_GET_INFO"), std::string::npos) << "QEMU's realize calls";
  std::remove(report.c_str());
  std::remove(trace.c_str());
}

}  // namespace
