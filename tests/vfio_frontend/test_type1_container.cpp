// The type1 container (type1_container.cpp): VFIO_IOMMU_DIRTY_PAGES,
// VFIO_IOMMU_UNMAP_DMA and the capabilities of VFIO_IOMMU_GET_INFO, with the
// kernel's checks (KernelAbi: the differences found in issue 12's review,
// each against the kernel function it follows).
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

constexpr uint64_t kMiB = uint64_t{1} << 20;

long map_dma(Frontend& fe, uint64_t iova, uint64_t size) {
  vfio_iommu_type1_dma_map m{};
  m.argsz = sizeof m;
  m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  m.iova = iova;
  m.size = size;
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_MAP_DMA, &m);
}

long dirty(Frontend& fe, uint32_t flag) {
  vfio_iommu_type1_dirty_bitmap d{};
  d.argsz = sizeof d;
  d.flags = flag;
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_DIRTY_PAGES, &d);
}

uint64_t bits(const std::vector<uint64_t>& bitmap) {
  uint64_t n = 0;
  for (auto w : bitmap) n += static_cast<uint64_t>(__builtin_popcountll(w));
  return n;
}

// VFIO_IOMMU_DIRTY_PAGES(GET_BITMAP) over [iova, iova + size).
long get_bitmap(Frontend& fe, uint64_t iova, uint64_t size, uint64_t* data, uint64_t bytes) {
  alignas(8) uint8_t raw[8 + sizeof(vfio_iommu_type1_dirty_bitmap_get)] = {};
  auto* hdr = reinterpret_cast<vfio_iommu_type1_dirty_bitmap*>(raw);
  auto* get = reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(raw + 8);
  hdr->argsz = sizeof raw;
  hdr->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  get->iova = iova;
  get->size = size;
  get->bitmap = {4096, bytes, reinterpret_cast<__u64*>(data)};
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_DIRTY_PAGES, raw);
}

// VFIO_IOMMU_UNMAP_DMA, with a struct vfio_bitmap after it when asked.
struct Unmap {
  alignas(8) uint8_t raw[sizeof(vfio_iommu_type1_dma_unmap) + sizeof(vfio_bitmap)] = {};
  vfio_iommu_type1_dma_unmap& u = *reinterpret_cast<vfio_iommu_type1_dma_unmap*>(raw);
  vfio_bitmap& bitmap = *reinterpret_cast<vfio_bitmap*>(raw + sizeof(vfio_iommu_type1_dma_unmap));
  Unmap(uint64_t iova, uint64_t size, uint32_t flags = 0) {
    u.argsz = flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP ? sizeof raw : sizeof u;
    u.flags = flags;
    u.iova = iova;
    u.size = size;
  }
  long operator()(Frontend& fe) { return fe.ioctl(fe.container_fd(), VFIO_IOMMU_UNMAP_DMA, raw); }
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

// Issue 12: vfio_iova_dirty_bitmap(): only a range that cuts a mapping in two is
// refused; ends in holes and ranges with no mapping at all are fine.
TEST(KernelAbi, GetBitmapAcceptsHolesAndRefusesOnlyASplitMapping) {
  Pair p(ram_options());
  auto& fe = p.src;
  ASSERT_EQ(map_dma(fe, 128 * kMiB, kMiB), 0);  // [0, 64 MiB) and [128, 129 MiB), holes between
  ASSERT_EQ(dirty(fe, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
  std::vector<uint64_t> bitmap(256 * kMiB / 4096 / 64);
  const uint64_t bytes = bitmap.size() * 8;
  // Both ends in holes, both mappings inside: the pinned pages (the 1 MiB DMA buffer).
  EXPECT_EQ(get_bitmap(fe, 0, 256 * kMiB, bitmap.data(), bytes), 0);
  EXPECT_EQ(bits(bitmap), 256u);
  // Begins on a mapping, ends in the hole after it.
  std::fill(bitmap.begin(), bitmap.end(), 0);
  EXPECT_EQ(get_bitmap(fe, 0, 100 * kMiB, bitmap.data(), bytes), 0);
  EXPECT_EQ(bits(bitmap), 256u);
  // A range with no mapping at all: success, nothing reported.
  std::fill(bitmap.begin(), bitmap.end(), 0);
  EXPECT_EQ(get_bitmap(fe, 80 * kMiB, 16 * kMiB, bitmap.data(), bytes), 0);
  EXPECT_EQ(bits(bitmap), 0u);
  // Cutting a mapping at either end: EINVAL.
  EXPECT_EQ(get_bitmap(fe, 4096, 64 * kMiB, bitmap.data(), bytes), -EINVAL) << "starts inside";
  EXPECT_EQ(get_bitmap(fe, 0, 32 * kMiB, bitmap.data(), bytes), -EINVAL) << "ends inside";
  EXPECT_EQ(get_bitmap(fe, 64 * kMiB, 64 * kMiB + 4096, bitmap.data(), bytes), -EINVAL)
      << "from a hole into the middle of [128, 129 MiB)";
}

// Issue 12: update_user_bitmap() copies to the user's bitmap once per mapping in
// the range: a NULL bitmap (which passes access_ok) faults then, and only then.
TEST(KernelAbi, GetBitmapWithANullBitmapIsEfaultWhenThereIsSomethingToCopy) {
  Pair p(ram_options());
  auto& fe = p.src;
  ASSERT_EQ(dirty(fe, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
  EXPECT_EQ(get_bitmap(fe, 0, 64 * kMiB, nullptr, 64 * kMiB / 4096 / 8), -EFAULT);
  EXPECT_EQ(get_bitmap(fe, 80 * kMiB, 16 * kMiB, nullptr, 16 * kMiB / 4096 / 8), 0)
      << "no mapping in the range: nothing is copied";
  EXPECT_EQ(get_bitmap(fe, 0, 64 * kMiB, nullptr, 8), -EINVAL)
      << "verify_bitmap_size() comes before any copy";
}

// Issue 12: vfio_iommu_type1_unmap_dma(): the flag checks.
TEST(KernelAbi, UnmapDmaChecksItsFlags) {
  Pair p(ram_options());
  auto& fe = p.src;
  EXPECT_EQ(Unmap(0, 64 * kMiB, 1u << 3)(fe), -EINVAL) << "unknown flag";
  EXPECT_EQ(Unmap(0, 0, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL)(fe),
            -EINVAL);
  EXPECT_EQ(
      Unmap(0, 64 * kMiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_VADDR)(fe),
      -EINVAL);
  EXPECT_EQ(Unmap(0, 64 * kMiB, VFIO_DMA_UNMAP_FLAG_VADDR)(fe), -EINVAL)
      << "vfio_dma_do_unmap(): no vaddr invalidation while an mdev is in the container";
  EXPECT_EQ(Unmap(4096, 0, VFIO_DMA_UNMAP_FLAG_ALL)(fe), -EINVAL) << "ALL needs iova = size = 0";
  EXPECT_EQ(Unmap(100, 4096)(fe), -EINVAL) << "unaligned iova";
  EXPECT_EQ(Unmap(0, 0)(fe), -EINVAL) << "size 0 without ALL";
  EXPECT_EQ(Unmap(4096, 4096)(fe), -EINVAL) << "v2: the range would cut the mapping";
  Unmap all(0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
  ASSERT_EQ(map_dma(fe, 128 * kMiB, kMiB), 0);
  ASSERT_EQ(all(fe), 0);
  EXPECT_EQ(all.u.size, 65 * kMiB) << "every mapping, and how much";
  EXPECT_EQ(map_dma(fe, 0, 64 * kMiB), 0) << "the space is free again";
}

// Issue 12: vfio_dma_do_unmap(): a range holding no mapping succeeds with size 0.
TEST(KernelAbi, UnmapOfARangeWithNoMappingReturnsSizeZero) {
  Pair p(ram_options());
  auto& fe = p.src;
  Unmap hole(80 * kMiB, 16 * kMiB);
  ASSERT_EQ(hole(fe), 0);
  EXPECT_EQ(hole.u.size, 0u);
  // A range with holes around one whole mapping unmaps just that mapping.
  ASSERT_EQ(map_dma(fe, 128 * kMiB, kMiB), 0);
  Unmap around(100 * kMiB, 100 * kMiB);
  ASSERT_EQ(around(fe), 0);
  EXPECT_EQ(around.u.size, kMiB);
  EXPECT_EQ(map_dma(fe, 128 * kMiB, kMiB), 0) << "it is gone";
}

// Issue 12: VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP: argsz >= 48, verify_bitmap_size(),
// tracking started and pgsize the IOMMU's, then the bitmap is filled for the
// unmapped range.
TEST(KernelAbi, UnmapWithGetDirtyBitmapFillsTheBitmap) {
  Pair p(ram_options());
  auto& fe = p.src;
  std::vector<uint64_t> bitmap(64 * kMiB / 4096 / 64);
  Unmap u(0, 64 * kMiB, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP);
  u.bitmap = {4096, bitmap.size() * 8, reinterpret_cast<__u64*>(bitmap.data())};
  EXPECT_EQ(u(fe), -EINVAL) << "dirty tracking not started";
  ASSERT_EQ(dirty(fe, VFIO_IOMMU_DIRTY_PAGES_FLAG_START), 0);
  u.u.argsz = sizeof(vfio_iommu_type1_dma_unmap);
  EXPECT_EQ(u(fe), -EINVAL) << "argsz < 48: no room for the vfio_bitmap";
  u.u.argsz = sizeof u.raw;
  u.bitmap.size = 8;
  EXPECT_EQ(u(fe), -EINVAL) << "bitmap too small for 16384 pages";
  u.bitmap.size = bitmap.size() * 8;
  u.bitmap.pgsize = 8192;
  EXPECT_EQ(u(fe), -EINVAL) << "pgsize is not the IOMMU page size";
  u.bitmap.pgsize = 4096;
  u.bitmap.data = nullptr;
  EXPECT_EQ(u(fe), -EFAULT) << "the bitmap is written for the mapping";
  u.bitmap.data = reinterpret_cast<__u64*>(bitmap.data());
  ASSERT_EQ(u(fe), 0);
  EXPECT_EQ(u.u.size, 64 * kMiB);
  EXPECT_EQ(bits(bitmap), 256u) << "the pinned DMA buffer, reported as it is unmapped";
  EXPECT_EQ(bitmap[0], ~uint64_t{0});
}

// Issue 12: vfio_iommu_type1_get_info(): MIGRATION then DMA_AVAIL, packed; no
// IOVA_RANGE for a container holding only an mdev (vfio_iommu_iova_build_caps()
// adds nothing for an empty IOVA list); argsz raised only when too small.
TEST(KernelAbi, IommuInfoReportsMigrationAndDmaAvailCapabilities) {
  Pair p(ram_options());
  const int c = p.src.container_fd();
  constexpr uint32_t kNeeded = 24 + 32 + 12;
  // argsz 16 (iova_pgsizes only): CAPS flagged, argsz raised, cap_offset not touched.
  alignas(8) uint8_t b16[24] = {};
  auto* i16 = reinterpret_cast<vfio_iommu_type1_info*>(b16);
  i16->argsz = 16;
  i16->cap_offset = 0xdead;
  ASSERT_EQ(p.src.ioctl(c, VFIO_IOMMU_GET_INFO, b16), 0);
  EXPECT_EQ(i16->argsz, kNeeded);
  EXPECT_EQ(i16->flags, uint32_t{VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS});
  EXPECT_EQ(i16->cap_offset, 0xdeadu);
  // argsz 24: raised, cap_offset 0 (no chain copied).
  vfio_iommu_type1_info i24{};
  i24.argsz = sizeof i24;
  i24.cap_offset = 0xdead;
  ASSERT_EQ(p.src.ioctl(c, VFIO_IOMMU_GET_INFO, &i24), 0);
  EXPECT_EQ(i24.argsz, kNeeded);
  EXPECT_EQ(i24.cap_offset, 0u);
  // Room to spare: argsz stays, the chain is there.
  ASSERT_EQ(map_dma(p.src, 128 * kMiB, kMiB), 0);
  alignas(8) uint8_t buf[128] = {};
  auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf);
  info->argsz = sizeof buf;
  ASSERT_EQ(p.src.ioctl(c, VFIO_IOMMU_GET_INFO, buf), 0);
  EXPECT_EQ(info->argsz, sizeof buf);
  ASSERT_EQ(info->cap_offset, 24u);
  std::vector<uint16_t> ids;
  uint32_t at = info->cap_offset;
  for (int guard = 0; at != 0 && guard < 8; ++guard) {
    auto* h = reinterpret_cast<vfio_info_cap_header*>(buf + at);
    ids.push_back(h->id);
    if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      EXPECT_EQ(at, 56u);
      EXPECT_EQ(reinterpret_cast<vfio_iommu_type1_info_dma_avail*>(h)->avail, 65535u - 2)
          << "dma_entry_limit less the two mappings";
    }
    at = h->next;
  }
  EXPECT_EQ(ids, (std::vector<uint16_t>{VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
                                        VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL}));
}

}  // namespace
}  // namespace mdevsim::vfio
