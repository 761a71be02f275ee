// The VMM's typed VFIO calls against the frontend, checked with the kernel's
// structures (<linux/vfio.h> offsets) and errnos.
#include <linux/vfio.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <systemc>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"
#include "vmm/abi_calls.h"

namespace mdevsim::vmm {
namespace {

models::DeviceConfig config() {
  models::DeviceConfig c;
  c.vram_bytes = 16 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 2;
  c.dma_buffer_bytes = 1 << 20;
  c.stop_latency_s = 0;
  return c;
}

vfio::FrontendOptions options(vfio::Protocol p, bool postcopy = false) {
  vfio::FrontendOptions o;
  o.protocol = p;
  o.v1_data_section_size = 256 * 1024;
  o.guest_ram_bytes = 64 << 20;
  if (postcopy) {
    o.protocol_def =
        std::make_shared<const vfio::ProtocolSpec>(vfio::resolve_protocol("v2-postcopy"));
    o.migration_flags = o.protocol_def->all_flags();
  }
  return o;
}

// A source with some VRAM written and a destination, behind frontends.
struct Pair {
  explicit Pair(vfio::Protocol p = vfio::Protocol::kV2, bool postcopy = false)
      : src_dev("src", config()),
        dst_dev("dst", config()),
        src(src_dev, options(p, postcopy)),
        dst(dst_dev, options(p, postcopy)) {
    for (uint64_t i = 0; i < 40; ++i) src_dev.vram.write_page(i * 5 % 256, i + 1);
  }
  models::GpuDevice src_dev, dst_dev;
  vfio::Frontend src, dst;
};

// The VMM room speaks only the ABI: no file of sim/vmm/ includes a model header.
TEST(AbiCalls, TheVmmRoomIncludesNoModelHeader) {
  const auto room = std::filesystem::path(MDEVSIM_SOURCE_DIR) / "sim" / "vmm";
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(room)) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::ifstream in(e.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
      EXPECT_FALSE(line.find("#include") != std::string::npos &&
                   line.find("mdevsim/models/") != std::string::npos)
          << e.path().string() << ":" << n << ": " << line;
  }
  EXPECT_GE(files, 2) << "abi_calls.h and abi_calls.cpp at least";
}

TEST(AbiCalls, V1FieldOffsetsAreTheKernelStructs) {
  // The kernel's own struct, not numbers: a changed uAPI would show here.
  EXPECT_EQ(kV1DeviceState, offsetof(struct vfio_device_migration_info, device_state));
  EXPECT_EQ(kV1PendingBytes, offsetof(struct vfio_device_migration_info, pending_bytes));
  EXPECT_EQ(kV1DataOffset, offsetof(struct vfio_device_migration_info, data_offset));
  EXPECT_EQ(kV1DataSize, offsetof(struct vfio_device_migration_info, data_size));
  EXPECT_EQ(v1_field_name(kV1PendingBytes), "pending_bytes");
  EXPECT_EQ(v1_field_name(kV1DataSize), "data_size");
  EXPECT_EQ(v1_field_name(4096), "region offset 4096");
  // vfio-pci places region N at N << 40 (VFIO_PCI_OFFSET_SHIFT in the kernel).
  EXPECT_EQ(kV1Region, uint64_t{VFIO_PCI_NUM_REGIONS} << 40);
}

TEST(AbiCalls, ProbeAndMigrationFlags) {
  Pair p;
  EXPECT_EQ(feature_probe(p.src, VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                          VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET),
            0);
  EXPECT_EQ(feature_probe(p.src, VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_SET), -EINVAL)
      << "MIGRATION is GET only";
  uint64_t flags = 0;
  ASSERT_EQ(get_migration_flags(p.src, flags), 0);
  EXPECT_TRUE(flags & VFIO_MIGRATION_STOP_COPY);
  // v1 has no migration ops behind VFIO_DEVICE_FEATURE: the kernel's ENOTTY.
  Pair v1(vfio::Protocol::kV1);
  EXPECT_EQ(get_migration_flags(v1.src, flags), -ENOTTY);
  EXPECT_EQ(flags, 0u);
}

TEST(AbiCalls, DeviceStateGetAndSet) {
  Pair p;
  uint32_t st = 99;
  int fd = 0;
  ASSERT_EQ(get_device_state(p.src, st, &fd), 0);
  EXPECT_EQ(st, VFIO_DEVICE_STATE_RUNNING);
  EXPECT_EQ(fd, -1) << "a GET writes data_fd = -1";
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP, &fd), 0);
  EXPECT_EQ(fd, -1) << "RUNNING -> STOP opens no session";
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP_COPY, &fd), 0);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_ERROR), -EINVAL) << "ERROR not settable";
  EXPECT_EQ(set_device_state(p.src, 42), -EINVAL);
  ASSERT_EQ(get_device_state(p.src, st), 0);
  EXPECT_EQ(st, VFIO_DEVICE_STATE_STOP_COPY) << "a refused SET leaves the state";
}

TEST(AbiCalls, StopCopyStreamInChunksRestoresTheDevice) {
  Pair p;
  uint64_t estimate = 0;
  ASSERT_EQ(get_data_size(p.src, estimate), 0);
  EXPECT_GT(estimate, 0u);
  int save = -1, resume = -1;
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP_COPY, &save), 0);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_STOP), 0);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_RESUMING, &resume), 0);
  std::vector<uint8_t> stream;
  const auto r = read_data(p.src, save, stream, UINT64_MAX, 4096);
  EXPECT_EQ(r.last, 0) << "read to the end of the stream";
  EXPECT_EQ(r.bytes, stream.size());
  EXPECT_GT(r.bytes, 40u * 64 * 1024) << "every written page travels";
  const auto w = write_data(p.dst, resume, stream.data(), stream.size(), 1000);
  EXPECT_EQ(w.bytes, stream.size());
  EXPECT_EQ(w.last, static_cast<long>(stream.size() % 1000)) << "the last chunk's write";
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_STOP), 0);
  EXPECT_TRUE(models::compare_devices(p.src_dev, p.dst_dev).equal());
  // After the session the fd is gone: the kernel's ENODEV on a disabled file
  // after STOP, EBADF for a number that never was a file.
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP), 0);
  std::vector<uint8_t> more;
  EXPECT_EQ(read_data(p.src, save, more, 10, 10).last, -ENODEV);
  EXPECT_EQ(read_data(p.src, 999, more, 10, 10).last, -EBADF);
}

TEST(AbiCalls, CopyDataMovesTheWholeStream) {
  Pair p;
  int save = -1, resume = -1;
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP_COPY, &save), 0);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_STOP), 0);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_RESUMING, &resume), 0);
  std::vector<uint8_t> buf;
  const auto c = copy_data(p.src, save, p.dst, resume, UINT64_MAX, 64 * 1024, buf);
  EXPECT_EQ(c.last, 0);
  EXPECT_GT(c.bytes, 0u);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_STOP), 0);
  EXPECT_TRUE(models::compare_devices(p.src_dev, p.dst_dev).equal());
}

TEST(AbiCalls, PrecopyInfoOnlyInPreCopy) {
  Pair p;
  int save = -1;
  ASSERT_EQ(set_device_state(p.src, kVfioDeviceStatePreCopy, &save), 0);
  uint64_t initial = 0, dirty = 99;
  ASSERT_EQ(get_precopy_info(p.src, save, initial, dirty), 0);
  EXPECT_GT(initial, 0u) << "initial data starts non-zero";
  EXPECT_EQ(dirty, 0u) << "dirty bytes start at 0";
  EXPECT_EQ(get_precopy_info(p.src, p.src.device_fd(), initial, dirty), -ENOTTY)
      << "not an ioctl of the device fd";
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP_COPY), 0);
  EXPECT_EQ(get_precopy_info(p.src, save, initial, dirty), -EINVAL) << "outside PRE_COPY";
}

TEST(AbiCalls, V1SaveAndResumeSegments) {
  Pair p(vfio::Protocol::kV1);
  uint32_t st = 0;
  ASSERT_EQ(v1_read_state(p.src, st), 0);
  EXPECT_EQ(st, VFIO_DEVICE_STATE_V1_RUNNING);
  ASSERT_EQ(v1_write_state(p.src, VFIO_DEVICE_STATE_V1_SAVING), 0);
  ASSERT_EQ(v1_write_state(p.dst, VFIO_DEVICE_STATE_V1_RESUMING), 0);
  EXPECT_EQ(v1_write_state(p.src, VFIO_DEVICE_STATE_V1_SAVING | VFIO_DEVICE_STATE_V1_RESUMING),
            -EINVAL)
      << "110b is not a valid state to write";
  uint64_t pending = 0;
  ASSERT_EQ(v1_read_u64(p.src, kV1PendingBytes, pending), 0);
  EXPECT_GT(pending, 0u);
  std::vector<uint8_t> seg;
  uint64_t moved = 0;
  int segments = 0;
  for (long n; (n = v1_save_segment(p.src, seg)) > 0; ++segments) {
    EXPECT_LE(static_cast<uint64_t>(n), 256u * 1024) << "at most the data section";
    ASSERT_EQ(v1_resume_segment(p.dst, seg.data(), seg.size()), 0);
    moved += static_cast<uint64_t>(n);
  }
  EXPECT_GT(segments, 1) << "the stream is larger than one data section";
  EXPECT_GE(moved, pending);
  ASSERT_EQ(v1_write_state(p.dst, VFIO_DEVICE_STATE_V1_STOP), 0);
  EXPECT_TRUE(models::compare_devices(p.src_dev, p.dst_dev).equal());
  // Native width only: a 2-byte read of a 64-bit field is refused.
  uint16_t half = 0;
  EXPECT_EQ(v1_pread(p.src, kV1PendingBytes, &half, sizeof(half)), -EINVAL);
}

TEST(AbiCalls, V1RegionInfoWalksTheCapabilityChain) {
  Pair p(vfio::Protocol::kV1);
  V1RegionInfo info;
  ASSERT_EQ(v1_region_info(p.src, info), 0);
  EXPECT_EQ(info.index, uint32_t{VFIO_PCI_NUM_REGIONS});
  EXPECT_EQ(info.offset, kV1Region);
  EXPECT_EQ(info.type, uint32_t{VFIO_REGION_TYPE_MIGRATION_DEPRECATED});
  EXPECT_EQ(info.subtype, uint32_t{VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED});
  ASSERT_EQ(info.sparse_areas.size(), 1u);
  EXPECT_EQ(info.sparse_areas[0].size, 256u * 1024) << "the data section";
  EXPECT_GE(info.sparse_areas[0].offset, sizeof(struct vfio_device_migration_info))
      << "after the header";
  EXPECT_EQ(info.size, info.sparse_areas[0].offset + info.sparse_areas[0].size);
}

TEST(AbiCalls, DirtyPagesType1AndDmaLogging) {
  Pair p;
  models::WorkloadSpec w;
  w.dma_rate_bytes_per_s = 4 << 20;
  models::WorkloadDriver driver("drv", p.src_dev, w, 7);
  const uint64_t ram = 64 << 20;
  std::vector<uint64_t> bitmap(ram / 4096 / 64);
  EXPECT_EQ(type1_dirty_get_bitmap(p.src, 0, ram, 4096, bitmap.data(), bitmap.size() * 8), -EINVAL)
      << "tracking not started";
  ASSERT_EQ(type1_dirty_start(p.src), 0);
  ASSERT_EQ(type1_dirty_get_bitmap(p.src, 0, ram, 4096, bitmap.data(), bitmap.size() * 8), 0);
  uint64_t set = 0;
  for (auto x : bitmap) set += static_cast<uint64_t>(__builtin_popcountll(x));
  EXPECT_EQ(set, (1u << 20) / 4096) << "the pinned DMA buffer is dirty in every report";
  EXPECT_EQ(type1_dirty_get_bitmap(p.src, 0, ram, 8192, bitmap.data(), bitmap.size() * 8), -EINVAL)
      << "pgsize must be the IOMMU page size";
  ASSERT_EQ(type1_dirty_stop(p.src), 0);

  EXPECT_EQ(dma_logging_start(p.src, 4096, {}), -EINVAL) << "num_ranges = 0";
  ASSERT_EQ(dma_logging_start(p.src, 4096, {{0, ram}}), 0);
  sc_core::sc_start(sc_core::sc_time(50, sc_core::SC_MS));
  std::fill(bitmap.begin(), bitmap.end(), 0);
  EXPECT_EQ(dma_logging_report(p.src, 0, ram, 2048, bitmap.data()), -EINVAL) << "page < 4096";
  ASSERT_EQ(dma_logging_report(p.src, 0, ram, 4096, bitmap.data()), 0);
  set = 0;
  for (auto x : bitmap) set += static_cast<uint64_t>(__builtin_popcountll(x));
  // 4 MiB/s of DMA for 50 ms in 4 KiB writes: about 51 pages, all in the buffer.
  EXPECT_GT(set, 20u);
  EXPECT_LE(set, 256u);
  ASSERT_EQ(dma_logging_stop(p.src), 0);
  EXPECT_EQ(dma_logging_report(p.src, 0, ram, 4096, bitmap.data()), -EINVAL) << "not started";
}

// The post-copy proposal (v2-postcopy.json): the source serves (state 8),
// the destination runs resuming (state 9) with the re-dirtied pages missing.
TEST(AbiCalls, PostcopyRequestAndFaults) {
  Pair p(vfio::Protocol::kV2, true);
  constexpr uint32_t kServe = 8, kResumingRunning = 9;
  int save = -1, resume = -1;
  ASSERT_EQ(set_device_state(p.src, kVfioDeviceStatePreCopy, &save), 0);
  ASSERT_EQ(set_device_state(p.dst, VFIO_DEVICE_STATE_RESUMING, &resume), 0);
  std::vector<uint8_t> buf;
  copy_data(p.src, save, p.dst, resume, UINT64_MAX, 1 << 20, buf);
  for (uint64_t page : {3, 7, 11}) p.src_dev.vram.write_page(page, 1000 + page);
  ASSERT_EQ(set_device_state(p.src, kServe), 0);
  copy_data(p.src, save, p.dst, resume, UINT64_MAX, 1 << 20, buf);
  ASSERT_EQ(set_device_state(p.dst, kResumingRunning), 0);
  std::vector<uint64_t> faults(16);
  uint64_t missing = 0;
  ASSERT_EQ(postcopy_faults(p.dst, resume, faults, missing), 0);
  EXPECT_TRUE(faults.empty()) << "nothing touched a missing page yet";
  EXPECT_EQ(missing, 3u) << "the pages written after the pre-copy pass";
  uint64_t queued = 0;
  ASSERT_EQ(postcopy_request(p.src, save, 7, 1, 0, queued), 0);
  EXPECT_EQ(queued, 1u);
  ASSERT_EQ(postcopy_request(p.src, save, 7, 1, 0, queued), 0);
  EXPECT_EQ(queued, 0u) << "a page already queued is not queued again";
  EXPECT_EQ(postcopy_faults(p.src, p.src.device_fd(), faults, missing), -ENOTTY)
      << "not an ioctl of the device fd";
}

TEST(AbiCalls, ResetReturnsToRunning) {
  Pair p;
  ASSERT_EQ(set_device_state(p.src, VFIO_DEVICE_STATE_STOP_COPY), 0);
  ASSERT_EQ(device_reset(p.src), 0);
  uint32_t st = 0;
  ASSERT_EQ(get_device_state(p.src, st), 0);
  EXPECT_EQ(st, VFIO_DEVICE_STATE_RUNNING);
}

}  // namespace
}  // namespace mdevsim::vmm
