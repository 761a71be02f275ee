// The type1 container (type1_container.cpp): VFIO_IOMMU_DIRTY_PAGES and the
// migration capability of VFIO_IOMMU_GET_INFO, with the kernel's checks.
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

}  // namespace
}  // namespace mdevsim::vfio
