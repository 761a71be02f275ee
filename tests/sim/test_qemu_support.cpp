// The pieces of mdevsim qemu / qemu-migrate that need no QEMU: scenarios
// with QEMU-only keys, the fake sysfs node, the interposer's report, traces.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "mdevsim/sim/qemu_support.h"

namespace {

using namespace mdevsim::sim;
namespace fs = std::filesystem;

std::string write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "." + name;
  std::ofstream(path) << text;
  return path;
}

const char* kScenario = R"({ "device": { "vram": "16MiB" },
  // comments are allowed, as in every scenario
  "migration": { "start_at": "1s", "multifd_channels": 4, "switchover_ack": true,
                 "dirty_tracking": "type1" } })";

TEST(QemuScenario, QemuOnlyKeysAreReadAndRemovedBeforeTheStrictLoader) {
  const std::string file = write("qemu-keys.json", kScenario);
  const auto q = load_qemu_scenario(file, {"device.vram=32MiB", "migration.multifd_channels=2"});
  EXPECT_EQ(q.keys.multifd_channels, 2u) << "--set wins over the file";
  EXPECT_TRUE(q.keys.switchover_ack);
  EXPECT_EQ(q.keys.dirty_tracking, DirtyTracking::kType1);
  EXPECT_EQ(q.scenario.device.config.vram_bytes, 32ull << 20);
  EXPECT_DOUBLE_EQ(q.scenario.migration.start_at_s, 1.0);
  EXPECT_EQ(q.scenario.name, fs::path(file).stem().string());
  // The copy for the interposer: --set applied, QEMU keys gone.
  EXPECT_EQ(q.applied["device"]["vram"], "32MiB");
  EXPECT_FALSE(q.applied["migration"].contains("multifd_channels"));
  // No checked copy left next to the file.
  std::string copy_prefix = fs::path(file).filename().string();
  copy_prefix.insert(0, 1, '.').append(".qemu-");
  for (const auto& e : fs::directory_iterator(fs::path(file).parent_path()))
    EXPECT_NE(e.path().filename().string().rfind(copy_prefix, 0), 0u) << e.path();
}

TEST(QemuScenario, BadValuesNameTheOriginalFileAndPath) {
  const std::string file = write("qemu-bad.json", kScenario);
  try {
    load_qemu_scenario(file, {"migration.dirty_tracking=pml"});
    FAIL() << "pml accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.json_path(), "/migration/dirty_tracking");
  }
  try {
    load_qemu_scenario(file, {"migration.multifd_channels=300"});
    FAIL() << "300 channels accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "/migration/multifd_channels");
  }
  // Errors of the ordinary loader also name the original, not the copy.
  try {
    load_qemu_scenario(file, {"device.vram=3"});
    FAIL() << "a 3-byte VRAM accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), file + " (--set device.vram=3)");
    EXPECT_EQ(e.json_path(), "/device/vram");
  }
}

TEST(QemuSysfs, NodeHasTheLinksQemuReads) {
  const std::string root = make_temp_dir("qemu-sysfs-test");
  const std::string dev = make_fake_sysfs(root, "mdevsim0");
  EXPECT_EQ(dev, root + "/devices/mdevsim0");
  EXPECT_EQ(fs::read_symlink(dev + "/iommu_group").string(),
            root + "/kernel/iommu_groups/" + std::to_string(kFakeIommuGroup));
  EXPECT_EQ(fs::canonical(dev + "/subsystem").string(), fs::canonical(root + "/bus/mdev").string());
  remove_tree(root);
  EXPECT_FALSE(fs::exists(root));
}

TEST(HostReport, ArcsDigestsAndPagesAreRead) {
  const std::string file = write("report.json", R"({"schema": "mdevsim.vfio_host/1", "pid": 7,
    "devices": [{"name": "mdevsim0", "protocol": "v2", "state": "STOP",
      "arcs": ["RUNNING -> PRE_COPY", "PRE_COPY -> PRE_COPY_P2P"],
      "digest_at_save_end": "00000000000000ab", "digest_after_resume": null,
      "dma_pages": [{"iova": 16777216, "hash": "1111111111111111"}],
      "ram_hashes_at_resume": [], "dma_bytes_written": 4096, "calls": 12, "errors": 1}]})");
  std::string why;
  const auto r = read_host_report(file, &why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->arcs, (std::vector<std::string>{"RUNNING -> PRE_COPY", "PRE_COPY -> PRE_COPY_P2P"}));
  EXPECT_EQ(r->digest_at_save_end, "00000000000000ab");
  EXPECT_FALSE(r->digest_after_resume);
  ASSERT_EQ(r->dma_pages.size(), 1u);
  EXPECT_EQ(r->dma_pages[0].first, 16777216u);
  EXPECT_EQ(r->calls, 12);
  EXPECT_FALSE(read_host_report(file + ".absent", &why));
  EXPECT_NE(why.find("no report"), std::string::npos) << why;
}

TEST(QemuTraces, MergedByTimeWithTheHostColumnSet) {
  const std::string src = write("src.trace",
                                "   0.100000000 src ioctl(device, A) = 0\n"
                                "   0.300000000 src read(data:5) = 8 [PRE_COPY]\n");
  const std::string dst = write("dst.trace", "   0.200000000 src ioctl(device, B) = 0\n");
  const std::string out = write("merged.trace", "");
  ASSERT_TRUE(merge_traces(src, dst, out));
  EXPECT_EQ(read_text(out),
            "   0.100000000 src ioctl(device, A) = 0\n"
            "   0.200000000 dst ioctl(device, B) = 0\n"
            "   0.300000000 src read(data:5) = 8 [PRE_COPY]\n");
}

}  // namespace
