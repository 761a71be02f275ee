// Real QEMU (label `qemu`) with libmdevsim-vfio-host.so preloaded: realize
// of -device vfio-pci on the fake sysfs node, and a live migration between
// two QEMUs over tcp:127.0.0.1 checked with the interposer's reports.
// Skipped, with the reason, when no QEMU is installed.
#include <fstream>

#include <gtest/gtest.h>

#include "mdevsim/vfio_host/report.h"
#include "qemu_process.h"
#include "scratch_dir.h"

namespace mdevsim::testing {
namespace {

using namespace std::chrono_literals;

struct VfioHostQemu : ::testing::Test {
  void SetUp() override {
    qemu = find_qemu();
    if (qemu.empty()) GTEST_SKIP() << "no QEMU: install qemu-system-x86 or set MDEVSIM_QEMU";
    const std::string version = qemu_version(qemu);
    std::printf("QEMU: %s (%s)\n", qemu.c_str(), version.c_str());
    if (version.find("version 10.") == std::string::npos)
      GTEST_SKIP() << "these checks are for QEMU 10 (protocol v2); found: " << version;
    sysfsdev = make_fake_sysfs(dir.path() / "sys", "mdevsim0", 42);
  }
  std::vector<std::string> env(const std::string& who) const {
    return {"LD_PRELOAD=" MDEVSIM_VFIO_HOST_LIB,
            "MDEVSIM_VFIO_TRACE=" + (dir.path() / (who + ".trace")).string(),
            "MDEVSIM_VFIO_REPORT=" + (dir.path() / (who + ".json")).string()};
  }
  vfio_host::DeviceReport report(const std::string& who) const {
    std::ifstream in(dir.path() / (who + ".json"));
    const auto r = nlohmann::json::parse(in).get<vfio_host::Report>();
    EXPECT_EQ(r.schema, vfio_host::kReportSchema);
    EXPECT_EQ(r.role, who);
    EXPECT_EQ(r.devices.size(), 1u);
    return r.devices.at(0);
  }
  ScratchDir dir{"vfio-host-qemu", "MDEVSIM_KEEP_TEST_FILES"};
  std::string qemu;
  std::filesystem::path sysfsdev;
};

TEST_F(VfioHostQemu, RealizeShowsTheDeviceInQueryPci) {
  const std::string sock = (dir.path() / "src.qmp").string();
  QemuProcess q(qemu, machine_args(sock, sysfsdev), env("src"), dir.path() / "src.log");
  Qmp qmp;
  ASSERT_TRUE(qmp.connect(sock, 20s)) << slurp(dir.path() / "src.log");
  const auto pci = qmp.command("query-pci");
  bool found = false;
  for (const auto& bus : pci.at("return"))
    for (const auto& dev : bus.at("devices"))
      if (dev.at("slot") == 3) {
        found = true;
        EXPECT_EQ(dev.at("id").at("vendor"), 0x4d44);
        EXPECT_EQ(dev.at("id").at("device"), 0x5631);
        EXPECT_EQ(dev.at("class_info").at("class"), 0x0380);
      }
  EXPECT_TRUE(found) << pci.dump();
  qmp.command("quit");
  EXPECT_EQ(q.wait(20s), 0) << slurp(dir.path() / "src.log");
  const std::string trace = slurp(dir.path() / "src.trace");
  for (const char* step : {"VFIO_GROUP_GET_STATUS", "VFIO_GROUP_SET_CONTAINER", "VFIO_SET_IOMMU",
                           "VFIO_IOMMU_MAP_DMA", "VFIO_GROUP_GET_DEVICE_FD", "VFIO_DEVICE_GET_INFO",
                           "pread(device, config, {offset=0 len=256}) = 256",
                           "VFIO_DEVICE_FEATURE(GET MIGRATION)", "VFIO_DEVICE_RESET"})
    EXPECT_NE(trace.find(step), std::string::npos) << step;
  const auto r = report("src");
  EXPECT_EQ(r.errors, 0u) << trace;
  EXPECT_GT(r.calls, 30u);
}

TEST_F(VfioHostQemu, LiveMigrationOverTcpKeepsDeviceStateAndDmaPages) {
  const std::string ssock = (dir.path() / "src.qmp").string();
  const std::string dsock = (dir.path() / "dst.qmp").string();
  const int port = 20000 + getpid() % 20000;
  auto dargs = machine_args(dsock, sysfsdev);
  dargs.push_back("-incoming");
  dargs.push_back("tcp:127.0.0.1:" + std::to_string(port));
  QemuProcess src(qemu, machine_args(ssock, sysfsdev), env("src"), dir.path() / "src.log");
  QemuProcess dst(qemu, dargs, env("dst"), dir.path() / "dst.log");
  Qmp s, d;
  ASSERT_TRUE(s.connect(ssock, 20s)) << slurp(dir.path() / "src.log");
  ASSERT_TRUE(d.connect(dsock, 20s)) << slurp(dir.path() / "dst.log");
  std::this_thread::sleep_for(1s);  // the workload runs and DMAs meanwhile
  ASSERT_TRUE(
      s.command("migrate", {{"uri", "tcp:127.0.0.1:" + std::to_string(port)}}).contains("return"));
  std::string status;
  for (int i = 0; i < 600 && status != "completed" && status != "failed"; ++i) {
    std::this_thread::sleep_for(50ms);
    status = s.command("query-migrate").at("return").value("status", "");
  }
  ASSERT_EQ(status, "completed") << slurp(dir.path() / "src.log");
  for (int i = 0; i < 100; ++i) {
    if (d.command("query-status").at("return").value("status", "") == "running") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(d.command("query-status").at("return").value("status", ""), "running");
  s.command("quit");
  d.command("quit");
  EXPECT_EQ(src.wait(20s), 0);
  EXPECT_EQ(dst.wait(20s), 0);

  const auto sr = report("src"), dr = report("dst");
  ASSERT_TRUE(sr.digest_at_save_end.has_value());
  ASSERT_TRUE(dr.digest_after_resume.has_value());
  EXPECT_EQ(*sr.digest_at_save_end, *dr.digest_after_resume);
  ASSERT_FALSE(sr.dma_pages.empty()) << "the default workload DMAs into guest RAM";
  std::map<uint64_t, std::string> at_dst;
  for (const auto& p : dr.ram_hashes_at_resume) at_dst[p.iova] = p.hash;
  size_t mismatched = 0;
  for (const auto& p : sr.dma_pages) mismatched += at_dst[p.iova] != p.hash;
  EXPECT_EQ(mismatched, 0u) << "of " << sr.dma_pages.size() << " DMA-written pages";
  // QEMU 10.0's source walk (reference transcript qemu-10.0-v2-src.txt).
  const std::vector<std::string> src_arcs = {
      "RUNNING -> RUNNING_P2P",   "RUNNING_P2P -> RUNNING",    "RUNNING -> PRE_COPY",
      "PRE_COPY -> PRE_COPY_P2P", "PRE_COPY_P2P -> STOP_COPY", "STOP_COPY -> STOP"};
  EXPECT_EQ(sr.arcs, src_arcs);
  EXPECT_EQ(sr.errors, 0u);
  EXPECT_EQ(dr.errors, 0u);
}

}  // namespace
}  // namespace mdevsim::testing
