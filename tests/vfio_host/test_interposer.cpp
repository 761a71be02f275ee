// The interposer's dispatch without QEMU: group and container ioctls with the
// kernel's errnos (drivers/vfio/group.c, container.c), fds that are real
// eventfds, data_fd rewriting, DMA into memory mapped with MAP_DMA, and
// pass-through of everything that is not a VFIO node.
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "mdevsim/vfio_host/report.h"
#include "scratch_dir.h"
#include "vfio_host_fixture.h"

namespace mdevsim::testing {
namespace {

bool is_eventfd(int fd) {
  std::error_code ec;
  const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
  return !ec && target.string() == "anon_inode:[eventfd]";
}

TEST(VfioHostGroup, RealizeSequenceWithTheKernelsErrnos) {
  setenv("MDEVSIM_VFIO_DEVICE", "testdev", 1);
  const int group = ::open("/dev/vfio/7", O_RDWR | O_CLOEXEC);
  ASSERT_GE(group, 0);
  EXPECT_TRUE(is_eventfd(group));
  EXPECT_EQ(rc(::open("/dev/vfio/7", O_RDWR)), -EBUSY);  // a group opens once

  vfio_group_status st{};
  st.argsz = 4;
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_GET_STATUS, &st)), -EINVAL);
  st.argsz = sizeof st;
  ASSERT_EQ(::ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, uint32_t{VFIO_GROUP_FLAGS_VIABLE});

  const int container = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  ASSERT_GE(container, 0);
  EXPECT_TRUE(is_eventfd(container));
  EXPECT_EQ(::ioctl(container, VFIO_GET_API_VERSION), VFIO_API_VERSION);
  EXPECT_EQ(::ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
  // No group attached: no IOMMU can be set, no device handed out.
  EXPECT_EQ(rc(::ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), -EINVAL);
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "testdev")), -EINVAL);
  vfio_iommu_type1_info info{};
  info.argsz = sizeof info;
  EXPECT_EQ(rc(::ioctl(container, VFIO_IOMMU_GET_INFO, &info)), -EINVAL);  // no driver yet

  int bad = group;  // not a container
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_SET_CONTAINER, &bad)), -EINVAL);
  bad = -1;
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_SET_CONTAINER, &bad)), -EINVAL);
  bad = 987654;  // not open
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_SET_CONTAINER, &bad)), -EBADF);
  int cfd = container;
  ASSERT_EQ(::ioctl(group, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_SET_CONTAINER, &cfd)), -EINVAL);  // already set
  ASSERT_EQ(::ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, uint32_t{VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET});

  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "testdev")), -EINVAL);  // no IOMMU yet
  ASSERT_EQ(::ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  EXPECT_EQ(rc(::ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)), -EINVAL);  // once
  ASSERT_EQ(::ioctl(container, VFIO_IOMMU_GET_INFO, &info), 0);

  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "other")), -ENODEV);
  const int device = ::ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "testdev");
  ASSERT_GE(device, 0);
  EXPECT_TRUE(is_eventfd(device));
  EXPECT_NE(device, group);
  EXPECT_NE(device, container);
  EXPECT_EQ(fcntl(device, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_UNSET_CONTAINER)), -EBUSY);  // device open
  EXPECT_EQ(rc(::ioctl(group, VFIO_DEVICE_GET_INFO, nullptr)), -ENOTTY);
  char buf[8];
  EXPECT_EQ(rc(::read(group, buf, sizeof buf)), -EINVAL);

  EXPECT_EQ(::close(device), 0);
  EXPECT_EQ(::ioctl(group, VFIO_GROUP_UNSET_CONTAINER), 0);
  EXPECT_EQ(rc(::ioctl(group, VFIO_GROUP_UNSET_CONTAINER)), -EINVAL);
  EXPECT_EQ(::close(group), 0);
  EXPECT_EQ(::close(container), 0);
  EXPECT_EQ(rc(::close(group)), -EBADF);  // really closed: the real fd is gone
}

TEST(VfioHostPassThrough, OtherFilesGoToGlibcAndStartNothing) {
  ScratchDir dir("vfio-host", "MDEVSIM_KEEP_TEST_FILES");
  const auto report = dir.path() / "report.json";
  setenv("MDEVSIM_VFIO_REPORT", report.c_str(), 1);
  const auto file = dir.path() / "plain";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::write(fd, "hello", 5), 5);
  char buf[8] = {};
  EXPECT_EQ(::pread(fd, buf, 5, 0), 5);
  EXPECT_STREQ(buf, "hello");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  int avail = -1;
  EXPECT_EQ(::ioctl(pipefd[0], FIONREAD, &avail), 0);
  EXPECT_EQ(avail, 0);
  EXPECT_EQ(::close(pipefd[0]), 0);
  EXPECT_EQ(::close(pipefd[1]), 0);
  EXPECT_EQ(::close(fd), 0);
  // No /dev/vfio node was opened: no simulated host, so no report.
  EXPECT_FALSE(std::filesystem::exists(report));
  EXPECT_EQ(rc(::open("/dev/vfio/not-a-group", O_RDWR)), -ENOENT);  // not ours: glibc says
}

TEST(VfioHostPassThrough, ChildrenRunWithoutThePreload) {
  // The library removes itself from LD_PRELOAD when it loads; a shell started
  // with it preloaded sees an empty LD_PRELOAD.
#ifdef MDEVSIM_SANITIZED
  GTEST_SKIP() << "a sanitizer build of the interposer cannot be preloaded into /bin/sh";
#endif
  const std::string lib = MDEVSIM_VFIO_HOST_LIB;
  const std::string cmd = "env LD_PRELOAD=" + lib + " /bin/sh -c 'echo \"[$LD_PRELOAD]\"'";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[256] = {};
  ASSERT_NE(fgets(line, sizeof line, p), nullptr);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_STREQ(line, "[]\n");
}

TEST(VfioHostDevice, DataFdIsARealFdAndDmaLandsInMappedRam) {
  ScratchDir dir("vfio-host", "MDEVSIM_KEEP_TEST_FILES");
  const auto scenario = dir.path() / "dma.json";
  std::ofstream(scenario) << R"({"seed": 3,
    "device": {"vram": "16MiB", "page_size": "64KiB", "contexts": 2, "dma_buffer": "256KiB"},
    "workload": {"kind": "uniform", "dirty_rate": "64MiB/s", "dma_rate": "64MiB/s"},
    "vm": {"ram": "64MiB"}})";
  const auto report = dir.path() / "report.json";
  setenv("MDEVSIM_VFIO_SCENARIO", scenario.c_str(), 1);
  setenv("MDEVSIM_VFIO_REPORT", report.c_str(), 1);
  setenv("MDEVSIM_VFIO_TIME_RATIO", "1", 1);
  const auto f = open_device();

  // Guest RAM as QEMU gives it: 64 MiB of anonymous memory at iova 0.
  constexpr size_t kRam = size_t{64} << 20;
  void* ram = mmap(nullptr, kRam, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(ram, MAP_FAILED);
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = reinterpret_cast<uint64_t>(ram);
  map.iova = 0;
  map.size = kRam;
  // Succeeds: the frontend no longer maps guest RAM on its own.
  ASSERT_EQ(::ioctl(f.container, VFIO_IOMMU_MAP_DMA, &map), 0);
  EXPECT_EQ(rc(::ioctl(f.container, VFIO_IOMMU_MAP_DMA, &map)), -EEXIST);

  // VM start as QEMU 10.0 does it: RUNNING -> RUNNING_P2P -> RUNNING.
  alignas(8) uint8_t buf[sizeof(vfio_device_feature) + sizeof(vfio_device_feature_mig_state)];
  auto* feat = reinterpret_cast<vfio_device_feature*>(buf);
  auto* ms = reinterpret_cast<vfio_device_feature_mig_state*>(feat->data);
  auto set_state = [&](uint32_t s) {
    std::memset(buf, 0, sizeof buf);
    feat->argsz = sizeof buf;
    feat->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
    ms->device_state = s;
    return rc(::ioctl(f.device, VFIO_DEVICE_FEATURE, buf));
  };
  ASSERT_EQ(set_state(VFIO_DEVICE_STATE_RUNNING_P2P), 0);
  EXPECT_EQ(ms->data_fd, -1);
  ASSERT_EQ(set_state(VFIO_DEVICE_STATE_RUNNING), 0);

  // 64 MiB/s of DMA for ~0.3 s of wall time (= simulated time at ratio 1).
  const auto* dma = static_cast<const uint8_t*>(ram) + (16 << 20);
  bool written = false;
  for (int i = 0; i < 300 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    written = std::any_of(dma, dma + (256 << 10), [](uint8_t b) { return b != 0; });
  }
  EXPECT_TRUE(written) << "no device DMA reached the mapped buffer at 16 MiB";

  ASSERT_EQ(set_state(kVfioDeviceStatePreCopy), 0);
  const int data = ms->data_fd;
  ASSERT_GE(data, 0);
  EXPECT_TRUE(is_eventfd(data)) << "data_fd must be a real fd of this process";
  std::vector<uint8_t> chunk(1 << 20);
  EXPECT_GT(::read(data, chunk.data(), chunk.size()), 0);
  EXPECT_EQ(rc(::pread(data, chunk.data(), 8, 0)), -ESPIPE);
  vfio_precopy_info pi{};
  pi.argsz = sizeof pi;
  EXPECT_EQ(::ioctl(data, VFIO_MIG_GET_PRECOPY_INFO, &pi), 0);

  ASSERT_EQ(set_state(VFIO_DEVICE_STATE_STOP_COPY), 0);
  EXPECT_EQ(ms->data_fd, -1);  // the same fd goes on
  ssize_t n;
  while ((n = ::read(data, chunk.data(), chunk.size())) > 0) {
  }
  EXPECT_EQ(n, 0);
  EXPECT_EQ(::close(data), 0);

  std::ifstream in(report);
  const auto r = nlohmann::json::parse(in).get<vfio_host::Report>();
  EXPECT_EQ(r.schema, "mdevsim.vfio_host/1");
  EXPECT_EQ(r.pid, getpid());
  ASSERT_EQ(r.devices.size(), 1u);
  const auto& d = r.devices[0];
  EXPECT_EQ(d.name, "testdev");
  EXPECT_EQ(d.protocol, "v2");
  EXPECT_EQ(d.state, "STOP_COPY");
  const std::vector<std::string> arcs = {"RUNNING -> RUNNING_P2P", "RUNNING_P2P -> RUNNING",
                                         "RUNNING -> PRE_COPY", "PRE_COPY -> PRE_COPY_P2P",
                                         "PRE_COPY_P2P -> STOP_COPY"};
  EXPECT_EQ(d.arcs, arcs);
  EXPECT_TRUE(d.digest_at_save_end.has_value());
  EXPECT_FALSE(d.digest_after_resume.has_value());
  EXPECT_GT(d.dma_bytes_written, 0u);
  ASSERT_FALSE(d.dma_pages.empty());
  // Each listed page hash is the hash of what is in our RAM now (stopped).
  for (const auto& p : d.dma_pages) {
    ASSERT_LT(p.iova + 4096, kRam);
    EXPECT_EQ(p.hash,
              vfio_host::hash_hex(vfio_host::page_hash(static_cast<uint8_t*>(ram) + p.iova)));
    EXPECT_GE(p.iova, uint64_t{16} << 20);
  }
  EXPECT_GE(d.dma_bytes_written, d.dma_pages.size() * 4096);  // pages may be rewritten
}

TEST(VfioHostEnvironment, BadProtocolNamesTheVariableAndFailsTheOpen) {
  setenv("MDEVSIM_VFIO_PROTOCOL", "v3", 1);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(rc(::open("/dev/vfio/7", O_RDWR)), -ENODEV);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("MDEVSIM_VFIO_PROTOCOL"), std::string::npos) << err;
  EXPECT_NE(err.find("'v3' is not v1 or v2"), std::string::npos) << err;
  EXPECT_EQ(rc(::open("/dev/vfio/vfio", O_RDWR)), -ENODEV);  // stays failed, said once
}

TEST(VfioHostEnvironment, BadTimeRatioIsRejected) {
  setenv("MDEVSIM_VFIO_TIME_RATIO", "-2", 1);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(rc(::open("/dev/vfio/vfio", O_RDWR)), -ENODEV);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("MDEVSIM_VFIO_TIME_RATIO: '-2' is not a positive number"), std::string::npos)
      << err;
}

TEST(VfioHostEnvironment, BadScenarioNamesFileAndJsonPath) {
  ScratchDir dir("vfio-host", "MDEVSIM_KEEP_TEST_FILES");
  const auto scenario = dir.path() / "bad.json";
  std::ofstream(scenario) << R"({"device": {"vram": "lots"}})";
  setenv("MDEVSIM_VFIO_SCENARIO", scenario.c_str(), 1);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(rc(::open("/dev/vfio/7", O_RDWR)), -ENODEV);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find(scenario.string()), std::string::npos) << err;
  EXPECT_NE(err.find("/device/vram"), std::string::npos) << err;
}

}  // namespace
}  // namespace mdevsim::testing
