// The ABI differences from the kernel found in a review (issue 12), each
// checked against the kernel function the frontend now follows:
//   (1) vfio_ioctl_device_feature()            unknown feature index
//   (2) vfio_iova_dirty_bitmap()               GET_BITMAP over holes
//   (3) vfio_iommu_type1_unmap_dma(), vfio_dma_do_unmap()
//   (4) mtty_precopy_ioctl() (mlx5, hisi_acc alike)   state before disabled fd
//   (5)(6) vfio_ioctl_device_feature_logging_start()
//   (7) update_user_bitmap()                   NULL bitmap: EFAULT
//   (8) vfio_pci_ioctl_get_region_info(), vfio_iommu_type1_get_info()
//   (9) v1_strict: libvfio-user's migr_states[] as intended
#include <map>
#include <set>

#include "frontend_fixture.h"

namespace mdevsim::vfio {
namespace {

using namespace mdevsim::vfio::testing;

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

// (1) vfio_ioctl_device_feature(): the default case, for a driver without a
// device_feature op, returns -ENOTTY since 16df67f2189a and -EINVAL before.
TEST(KernelAbi, UnknownFeatureIndexFollowsTheKernelGeneration) {
  Pair p;
  for (const auto& [generation, expected] : {std::pair{KernelGeneration::kCurrent, -ENOTTY},
                                             std::pair{KernelGeneration::kBefore2025, -EINVAL}}) {
    FrontendOptions o;
    o.kernel = generation;
    Frontend fe(p.src_dev, o);
    FeatureBuf<uint64_t> unknown(VFIO_DEVICE_FEATURE_GET | 42);
    EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &unknown), expected);
    // Known features do not depend on it.
    FeatureBuf<vfio_device_feature_migration> mig(VFIO_DEVICE_FEATURE_GET |
                                                  VFIO_DEVICE_FEATURE_MIGRATION);
    EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &mig), 0);
  }
  EXPECT_EQ(FrontendOptions{}.kernel, KernelGeneration::kCurrent) << "the current one by default";
}

// (2) vfio_iova_dirty_bitmap(): only a range that cuts a mapping in two is
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

// (7) update_user_bitmap() copies to the user's bitmap once per mapping in
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

// (3) vfio_iommu_type1_unmap_dma(): the flag checks.
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

// (3) vfio_dma_do_unmap(): a range holding no mapping succeeds with size 0.
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

// (3) VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP: argsz >= 48, verify_bitmap_size(),
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

// (4) mtty_precopy_ioctl(): the device state is checked before the file's
// disabled flag, so a fd that left the saving group gets EINVAL, not ENODEV.
TEST(KernelAbi, PrecopyInfoChecksTheStateBeforeTheDisabledFd) {
  Pair p;
  int old_fd = -1, new_fd = -1;
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &old_fd), 0);
  ASSERT_EQ(set_state(p.src, MigState::kRunning), 0);  // leaves the saving group: fd disabled
  vfio_precopy_info info{};
  info.argsz = sizeof info;
  EXPECT_EQ(p.src.ioctl(old_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -EINVAL)
      << "RUNNING is checked first";
  ASSERT_EQ(set_state(p.src, MigState::kPreCopy, &new_fd), 0);
  ASSERT_NE(new_fd, old_fd);
  EXPECT_EQ(p.src.ioctl(old_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), -ENODEV)
      << "in PRE_COPY again, the old fd is the one at fault";
  EXPECT_EQ(p.src.ioctl(new_fd, VFIO_MIG_GET_PRECOPY_INFO, &info), 0);
}

struct LogStart {
  alignas(8) uint8_t raw[8 + sizeof(vfio_device_feature_dma_logging_control)] = {};
  vfio_device_feature& hdr = *reinterpret_cast<vfio_device_feature*>(raw);
  vfio_device_feature_dma_logging_control& ctl =
      *reinterpret_cast<vfio_device_feature_dma_logging_control*>(raw + 8);
  LogStart(uint64_t page_size, std::vector<vfio_device_feature_dma_logging_range>& ranges) {
    hdr.argsz = sizeof(raw);
    hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
    ctl.page_size = page_size;
    ctl.num_ranges = static_cast<uint32_t>(ranges.size());
    ctl.ranges = reinterpret_cast<uint64_t>(ranges.data());
  }
  long operator()(Frontend& fe) { return fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw); }
};

long logging_stop(Frontend& fe) {
  FeatureBuf<uint8_t> stop(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, 8);
  return fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &stop);
}

// (5) vfio_ioctl_device_feature_logging_start() does not check that
// page_size is a power of two: it is a hint, and the driver writes back the
// size it chose. Alignment is IS_ALIGNED(), a mask test.
TEST(KernelAbi, DmaLoggingPageSizeIsAHintWrittenBack) {
  Pair p(ram_options());
  std::vector<vfio_device_feature_dma_logging_range> ranges{{0, 64 * kMiB}};
  LogStart three_pages(12288, ranges);  // 12 KiB: mask 0x2fff; 0 and 64 MiB pass it
  ASSERT_EQ(three_pages(p.src), 0);
  EXPECT_EQ(three_pages.ctl.page_size, 8192u) << "rounded down to a power of two";
  ASSERT_EQ(logging_stop(p.src), 0);
  LogStart tiny(1024, ranges);
  ASSERT_EQ(tiny(p.src), 0);
  EXPECT_EQ(tiny.ctl.page_size, 4096u) << "never below 4 KiB";
  ASSERT_EQ(logging_stop(p.src), 0);
  std::vector<vfio_device_feature_dma_logging_range> odd{{8192, 64 * kMiB}};
  EXPECT_EQ(LogStart(12288, odd)(p.src), -EINVAL) << "8192 & 0x2fff != 0: not IS_ALIGNED";
}

// (6) The same function checks the ranges one by one (alignment, overflow,
// overlap with an earlier range), so the first bad range decides the errno.
TEST(KernelAbi, DmaLoggingTheFirstBadRangeDecides) {
  Pair p(ram_options());
  const uint64_t wraps = ~uint64_t{0} - 4095;
  std::vector<vfio_device_feature_dma_logging_range> r1{{0, 8192}, {4096, 4096}, {wraps, 8192}};
  EXPECT_EQ(LogStart(4096, r1)(p.src), -EINVAL) << "range 1 overlaps range 0 before range 2 wraps";
  std::vector<vfio_device_feature_dma_logging_range> r2{{wraps, 8192}, {100, 4096}};
  EXPECT_EQ(LogStart(4096, r2)(p.src), -EOVERFLOW) << "range 0 wraps before range 1 is unaligned";
  std::vector<vfio_device_feature_dma_logging_range> r3{{100, 4096}, {wraps, 8192}};
  EXPECT_EQ(LogStart(4096, r3)(p.src), -EINVAL);
  std::vector<vfio_device_feature_dma_logging_range> r4{{0, 4096}};
  LogStart null_ranges(4096, r4);
  null_ranges.ctl.ranges = 0;
  EXPECT_EQ(null_ranges(p.src), -EFAULT) << "copy_from_user of range 0";
}

// (8) vfio_pci_ioctl_get_region_info(): a large enough argsz is left as passed.
TEST(KernelAbi, RegionAndDeviceInfoLeaveABigEnoughArgszAlone) {
  FrontendOptions o;
  o.protocol = Protocol::kV1;
  Pair p(o);
  alignas(8) uint8_t buf[256] = {};
  auto* info = reinterpret_cast<vfio_region_info*>(buf);
  info->argsz = sizeof buf;
  info->index = VFIO_PCI_NUM_REGIONS;  // the v1 migration region, with capabilities
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_GET_REGION_INFO, buf), 0);
  EXPECT_EQ(info->argsz, sizeof buf);
  EXPECT_EQ(info->cap_offset, sizeof(vfio_region_info));
  vfio_region_info small{};
  small.argsz = sizeof small;
  small.index = VFIO_PCI_NUM_REGIONS;
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_GET_REGION_INFO, &small), 0);
  EXPECT_EQ(small.argsz, 80u) << "too small: raised to the size needed";
  alignas(8) uint8_t dbuf[64] = {};
  auto* dinfo = reinterpret_cast<vfio_device_info*>(dbuf);
  dinfo->argsz = sizeof dbuf;
  ASSERT_EQ(p.src.ioctl(p.src.device_fd(), VFIO_DEVICE_GET_INFO, dbuf), 0);
  EXPECT_EQ(dinfo->argsz, sizeof dbuf);
}

// (8) vfio_iommu_type1_get_info(): MIGRATION then DMA_AVAIL, packed; no
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

// (9) v1_strict follows libvfio-user's migr_states[] as intended: what the
// table allows is allowed, what it refuses is refused, except that the
// operator-precedence slip is corrected (011b -> 001b refused, same-state
// writes accepted) and 110b is never a target.
TEST(KernelAbi, V1StrictIsLibvfioUsersTableAsIntended) {
  FrontendOptions o;
  o.protocol = Protocol::kV1;
  o.v1_strict = true;
  // from -> targets the table allows (error state left out).
  const std::map<uint32_t, std::set<uint32_t>> allowed = {
      {0, {0, 1}}, {1, {0, 1, 2, 3, 4}}, {2, {0, 1, 2}}, {3, {0, 2, 3}}, {4, {1, 4}}};
  Pair p(o);
  FrontendOptions permissive_options = o;
  permissive_options.v1_strict = false;
  Frontend permissive(p.dst_dev, permissive_options);
  const auto wr = [](Frontend& fe, uint32_t v) {
    return fe.pwrite(fe.device_fd(), &v, 4, uint64_t{VFIO_PCI_NUM_REGIONS} << 40);
  };
  for (const auto& [from, targets] : allowed)
    for (uint32_t to = 0; to <= 7; ++to) {
      // From 001b (after a reset) every state is one allowed write away.
      for (Frontend* fe : {&p.src, &permissive}) {
        ASSERT_EQ(fe->ioctl(fe->device_fd(), VFIO_DEVICE_RESET, nullptr), 0);
        if (from != 1) {
          ASSERT_EQ(wr(*fe, from), 4) << from;
        }
      }
      const long loose = wr(permissive, to);
      // An allowed write does what it does without strict mode (100b -> 001b
      // validates the empty image and fails either way); a refused one is EINVAL.
      EXPECT_EQ(wr(p.src, to), targets.count(to) ? loose : -EINVAL) << from << " -> " << to;
      if (targets.count(to) && !(from == 4 && to == 1)) {
        EXPECT_EQ(loose, 4) << from << " -> " << to;
      }
    }
}

}  // namespace
}  // namespace mdevsim::vfio
