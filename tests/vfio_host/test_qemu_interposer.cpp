// Real QEMU (label `qemu`) with libmdevsim-vfio-host.so preloaded: realize
// of -device vfio-pci on the fake sysfs node, and a live migration between
// two QEMUs over tcp:127.0.0.1 checked with the interposer's reports.
// Skipped, with the reason, when no QEMU is installed.
#include <fstream>
#include <map>
#include <optional>

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

// Source and destination QEMU, `migrate` over tcp:127.0.0.1 after 1 s of
// workload, both reports read back. Returns false (with failures) if the
// migration did not complete.
struct Migrated {
  vfio_host::DeviceReport src, dst;
};

std::optional<Migrated> migrate(VfioHostQemu& t, std::vector<std::string> extra_args,
                                const std::string& device_opts,
                                std::vector<std::string> extra_env) {
  const auto& dir = t.dir.path();
  const std::string ssock = (dir / "src.qmp").string(), dsock = (dir / "dst.qmp").string();
  const int port = 20000 + getpid() % 20000;
  auto args = [&](const std::string& sock) {
    auto a = machine_args(sock, t.sysfsdev);
    a.back() += device_opts;
    a.insert(a.end(), extra_args.begin(), extra_args.end());
    return a;
  };
  auto env = [&](const std::string& who) {
    auto e = t.env(who);
    e.insert(e.end(), extra_env.begin(), extra_env.end());
    return e;
  };
  auto dargs = args(dsock);
  dargs.push_back("-incoming");
  dargs.push_back("tcp:127.0.0.1:" + std::to_string(port));
  QemuProcess src(t.qemu, args(ssock), env("src"), dir / "src.log");
  QemuProcess dst(t.qemu, dargs, env("dst"), dir / "dst.log");
  Qmp s, d;
  EXPECT_TRUE(s.connect(ssock, 20s)) << slurp(dir / "src.log");
  EXPECT_TRUE(d.connect(dsock, 20s)) << slurp(dir / "dst.log");
  std::this_thread::sleep_for(1s);  // the workload runs and DMAs meanwhile
  EXPECT_TRUE(
      s.command("migrate", {{"uri", "tcp:127.0.0.1:" + std::to_string(port)}}).contains("return"));
  std::string status;
  for (int i = 0; i < 1200 && status != "completed" && status != "failed"; ++i) {
    std::this_thread::sleep_for(50ms);
    const auto r = s.command("query-migrate");
    if (!r.contains("return")) break;
    status = r.at("return").value("status", "");
  }
  EXPECT_EQ(status, "completed") << slurp(dir / "src.log") << slurp(dir / "dst.log");
  if (status != "completed") return std::nullopt;
  std::string dst_status;
  for (int i = 0; i < 100 && dst_status != "running"; ++i) {
    std::this_thread::sleep_for(50ms);
    dst_status = d.command("query-status").at("return").value("status", "");
  }
  EXPECT_EQ(dst_status, "running");
  s.command("quit");
  d.command("quit");
  EXPECT_EQ(src.wait(20s), 0);
  EXPECT_EQ(dst.wait(20s), 0);
  return Migrated{t.report("src"), t.report("dst")};
}

// The oracle of the issue: the device state digest at the end of the save
// stream equals the destination's when it leaves RESUMING, and every page
// the device DMA-wrote holds the same bytes in the destination's RAM.
void expect_verified(const Migrated& m) {
  ASSERT_TRUE(m.src.digest_at_save_end.has_value());
  ASSERT_TRUE(m.dst.digest_after_resume.has_value());
  EXPECT_EQ(*m.src.digest_at_save_end, *m.dst.digest_after_resume);
  ASSERT_FALSE(m.src.dma_pages.empty()) << "the default workload DMAs into guest RAM";
  std::map<uint64_t, std::string> at_dst;
  for (const auto& p : m.dst.ram_hashes_at_resume) at_dst[p.iova] = p.hash;
  size_t mismatched = 0;
  for (const auto& p : m.src.dma_pages) mismatched += at_dst[p.iova] != p.hash;
  EXPECT_EQ(mismatched, 0u) << "of " << m.src.dma_pages.size() << " DMA-written pages";
  EXPECT_EQ(m.src.errors, 0u);
  EXPECT_EQ(m.dst.errors, 0u);
}

TEST_F(VfioHostQemu, LiveMigrationOverTcpKeepsDeviceStateAndDmaPages) {
  const auto m = migrate(*this, {}, "", {});
  ASSERT_TRUE(m);
  expect_verified(*m);
  // QEMU 10.0's source walk (reference transcript qemu-10.0-v2-src.txt).
  const std::vector<std::string> src_arcs = {
      "RUNNING -> RUNNING_P2P",   "RUNNING_P2P -> RUNNING",    "RUNNING -> PRE_COPY",
      "PRE_COPY -> PRE_COPY_P2P", "PRE_COPY_P2P -> STOP_COPY", "STOP_COPY -> STOP"};
  EXPECT_EQ(m->src.arcs, src_arcs);
}

// QEMU 7.2 (protocol v1), unpacked by scripts/install-deps into .deps/qemu-7.2.
struct VfioHostQemu72 : VfioHostQemu {
  void SetUp() override {
    root = std::string(MDEVSIM_SOURCE_DIR) + "/.deps/qemu-7.2";
    qemu = root + "/usr/bin/qemu-system-x86_64";
    if (access(qemu.c_str(), X_OK) != 0)
      GTEST_SKIP() << "no QEMU 7.2 in " << root << " (scripts/install-deps unpacks it)";
    std::printf("QEMU: %s\n", qemu.c_str());
    sysfsdev = make_fake_sysfs(dir.path() / "sys", "mdevsim0", 42);
  }
  std::string root;
};

TEST_F(VfioHostQemu72, V1MigrationOverTcpKeepsDeviceStateAndDmaPages) {
  const auto m = migrate(
      *this, {"-L", root + "/usr/share/qemu", "-L", root + "/usr/share/seabios"},
      ",x-enable-migration=on",
      {"QEMU_MODULE_DIR=" + root + "/usr/lib/x86_64-linux-gnu/qemu", "MDEVSIM_VFIO_PROTOCOL=v1"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->src.protocol, "v1");
  expect_verified(*m);
  // 7.2's save: 011b, stop-and-copy 010b (written twice: the second is no arc), then 000b.
  const std::vector<std::string> src_arcs = {"001b -> 011b", "011b -> 010b", "010b -> 000b"};
  EXPECT_EQ(m->src.arcs, src_arcs);
  const std::vector<std::string> dst_first = {"001b -> 100b", "100b -> 001b"};
  ASSERT_GE(m->dst.arcs.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(m->dst.arcs.begin(), m->dst.arcs.begin() + 2), dst_first);
}

}  // namespace
}  // namespace mdevsim::testing
