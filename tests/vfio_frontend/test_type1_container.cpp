// Guest RAM written by device DMA: type1 VFIO_IOMMU_DIRTY_PAGES on the
// container and the device DMA-logging features, with the kernel's checks.
#include "frontend_fixture.h"

namespace mdevsim::vfio {
namespace {

using namespace mdevsim::vfio::testing;

struct DirtyReq {
  alignas(8) uint8_t
      raw[sizeof(vfio_iommu_type1_dirty_bitmap) + sizeof(vfio_iommu_type1_dirty_bitmap_get)] = {};
  vfio_iommu_type1_dirty_bitmap& hdr = *reinterpret_cast<vfio_iommu_type1_dirty_bitmap*>(raw);
  vfio_iommu_type1_dirty_bitmap_get& get =
      *reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(raw + 8);
  explicit DirtyReq(uint32_t flags, uint32_t argsz = 48) {
    hdr.argsz = argsz;
    hdr.flags = flags;
  }
};

FrontendOptions ram_options() {
  FrontendOptions o;
  o.guest_ram_bytes = 64 << 20;
  return o;
}

TEST(DirtyPagesType1, FlagAndArgumentChecks) {
  Pair p(ram_options());
  auto& fe = p.src;
  const int c = fe.container_fd();
  DirtyReq none(0, 8);
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &none), -EINVAL) << "no flag";
  DirtyReq two(VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 8);
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &two), -EINVAL) << "more than one flag";
  DirtyReq shortarg(VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 4);
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &shortarg), -EINVAL);
  DirtyReq stop(VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, 8);
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &stop), 0) << "STOP always succeeds";
  std::vector<uint64_t> bitmap(64 << 20 >> 12 >> 6);
  DirtyReq get(VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP);
  get.get.iova = 0;
  get.get.size = 64 << 20;
  get.get.bitmap = {4096, bitmap.size() * 8, reinterpret_cast<__u64*>(bitmap.data())};
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "tracking not started";
  DirtyReq start(VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 8);
  ASSERT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &start), 0);
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &start), 0) << "repeated START is a no-op";
  get.hdr.argsz = 40;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "payload < 40 bytes";
  get.hdr.argsz = 48;
  get.get.bitmap.pgsize = 8192;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "pgsize != IOMMU page size";
  get.get.bitmap.pgsize = 4096;
  get.get.bitmap.size = 8;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "bitmap too small";
  get.get.bitmap.size = bitmap.size() * 8;
  get.get.iova = 100;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "unaligned iova";
  get.get.iova = 4096;
  get.get.size = (64 << 20) - 4096;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EINVAL) << "range must start at a mapping";
  get.get.iova = 0;
  get.get.size = 64 << 20;
  get.get.bitmap.data = nullptr;
  EXPECT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), -EFAULT) << "copied out, then faults";
  get.get.bitmap.data = reinterpret_cast<__u64*>(bitmap.data());
  ASSERT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), 0);
  // Pinned pages (the device's DMA buffer, 1 MiB at GPA 0) are dirty in every report.
  uint64_t set = 0;
  for (auto w : bitmap) set += static_cast<uint64_t>(__builtin_popcountll(w));
  EXPECT_EQ(set, 256u);
  std::fill(bitmap.begin(), bitmap.end(), 0);
  ASSERT_EQ(fe.ioctl(c, VFIO_IOMMU_DIRTY_PAGES, &get), 0);
  EXPECT_EQ(bitmap[0], ~uint64_t{0}) << "still reported: pinned";
}

TEST(DirtyPagesType1, PlainType1ContainerIsRefused) {
  Pair p(ram_options());
  ASSERT_EQ(p.src.ioctl(p.src.container_fd(), VFIO_SET_IOMMU,
                        reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1_IOMMU})),
            0);
  DirtyReq start(VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 8);
  EXPECT_EQ(p.src.ioctl(p.src.container_fd(), VFIO_IOMMU_DIRTY_PAGES, &start), -EACCES);
}

TEST(DirtyPagesType1, IommuInfoAdvertisesTheMigrationCapability) {
  Pair p(ram_options());
  alignas(8)
      uint8_t buf[sizeof(vfio_iommu_type1_info) + sizeof(vfio_iommu_type1_info_cap_migration) +
                  sizeof(vfio_iommu_type1_info_dma_avail)] = {};
  auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf);
  info->argsz = sizeof(buf);
  ASSERT_EQ(p.src.ioctl(p.src.container_fd(), VFIO_IOMMU_GET_INFO, buf), 0);
  ASSERT_NE(info->cap_offset, 0u);
  auto* cap = reinterpret_cast<vfio_iommu_type1_info_cap_migration*>(buf + info->cap_offset);
  EXPECT_EQ(cap->header.id, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
  EXPECT_EQ(cap->pgsize_bitmap, 4096u);
  EXPECT_EQ(cap->max_dirty_bitmap_size, uint64_t{256} << 20);
}

struct LogStart {
  alignas(8) uint8_t raw[8 + sizeof(vfio_device_feature_dma_logging_control)] = {};
  vfio_device_feature& hdr = *reinterpret_cast<vfio_device_feature*>(raw);
  vfio_device_feature_dma_logging_control& ctl =
      *reinterpret_cast<vfio_device_feature_dma_logging_control*>(raw + 8);
  LogStart() {
    hdr.argsz = sizeof(raw);
    hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
  }
};

TEST(DmaLogging, StartChecks) {
  Pair p(ram_options());
  auto& fe = p.src;
  std::vector<vfio_device_feature_dma_logging_range> ranges(300, {0, 4096});
  LogStart s;
  s.ctl.page_size = 4096;
  s.ctl.ranges = reinterpret_cast<uint64_t>(ranges.data());
  s.ctl.num_ranges = 0;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "no ranges";
  s.ctl.num_ranges = 257;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -E2BIG);
  s.ctl.num_ranges = 2;
  ranges[0] = {0, 8192};
  ranges[1] = {4096, 4096};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "overlap";
  ranges[1] = {100, 4096};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "unaligned";
  ranges[1] = {~uint64_t{0} - 4095 - 4096, 8192};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EOVERFLOW);
  ranges[1] = {1 << 20, 63 << 20};
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), 0);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "one START until STOP";
  s.hdr.argsz = 16;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "payload too small";
}

TEST(DmaLogging, ReportSetsBitsForDmaWritesAndClears) {
  Pair p(ram_options());
  auto& fe = p.src;
  vfio_device_feature_dma_logging_range range{0, 64 << 20};
  LogStart s;
  s.ctl.page_size = 4096;
  s.ctl.num_ranges = 1;
  s.ctl.ranges = reinterpret_cast<uint64_t>(&range);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), 0);
  sc_core::sc_start(sc_core::sc_time(50, sc_core::SC_MS));
  std::vector<uint64_t> bitmap(256);
  alignas(8) uint8_t raw[8 + sizeof(vfio_device_feature_dma_logging_report)] = {};
  auto* hdr = reinterpret_cast<vfio_device_feature*>(raw);
  auto* rep = reinterpret_cast<vfio_device_feature_dma_logging_report*>(raw + 8);
  hdr->argsz = sizeof(raw);
  hdr->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
  rep->iova = 0;
  rep->length = 64 << 20;
  rep->page_size = 2048;
  rep->bitmap = reinterpret_cast<uint64_t>(bitmap.data());
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "page_size < 4096";
  rep->page_size = 12288;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "not a power of two";
  rep->page_size = 4096;
  rep->length = ~uint64_t{0};
  rep->iova = 4096;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EOVERFLOW);
  rep->iova = 0;
  rep->length = 64 << 20;
  hdr->argsz = 39;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "argsz < 40";
  hdr->argsz = sizeof(raw);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), 0);
  uint64_t set = 0;
  for (auto w : bitmap) set += static_cast<uint64_t>(__builtin_popcountll(w));
  // The test workload DMAs 4 MiB/s of 4 KiB pages into a 1 MiB buffer for 50 ms: ~51 writes.
  EXPECT_GT(set, 20u);
  EXPECT_LE(set, 256u) << "only pages inside the DMA buffer";
  std::fill(bitmap.begin(), bitmap.end(), 0);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), 0);
  EXPECT_EQ(std::count(bitmap.begin(), bitmap.end(), 0u), 256) << "a report clears the log";
  alignas(8) uint8_t stop[8] = {};
  reinterpret_cast<vfio_device_feature*>(stop)->argsz = 8;
  reinterpret_cast<vfio_device_feature*>(stop)->flags =
      VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, stop), 0);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "not started";
}

}  // namespace
}  // namespace mdevsim::vfio
