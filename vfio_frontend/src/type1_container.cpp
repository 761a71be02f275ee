// The type1 container fd: IOMMU type, DMA mappings and the type1 dirty
// page tracking (VFIO_IOMMU_DIRTY_PAGES, unmap with GET_DIRTY_BITMAP).
#include <algorithm>

#include "frontend_impl.h"

namespace mdevsim::vfio {

long Frontend::Impl::container_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case VFIO_GET_API_VERSION:
      rec.request = "VFIO_GET_API_VERSION";
      return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: {
      rec.request = "VFIO_CHECK_EXTENSION";
      const auto ext = reinterpret_cast<uintptr_t>(arg);
      return ext == VFIO_TYPE1_IOMMU || ext == VFIO_TYPE1v2_IOMMU ? 1 : 0;
    }
    case VFIO_SET_IOMMU: {
      rec.request = "VFIO_SET_IOMMU";
      const auto type = reinterpret_cast<uintptr_t>(arg);
      if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
        return fail(EINVAL, "unsupported IOMMU type");
      iommu_type = static_cast<uint32_t>(type);
      return 0;
    }
    case VFIO_IOMMU_MAP_DMA: {
      rec.request = "VFIO_IOMMU_MAP_DMA";
      if (!arg) return fail(EFAULT, "no argument buffer");
      auto* m = static_cast<vfio_iommu_type1_dma_map*>(arg);
      if (m->argsz < sizeof(*m)) return fail(EINVAL, "argsz too small");
      if (m->size == 0 || m->iova % kIommuPage || m->size % kIommuPage)
        return fail(EINVAL, "iova and size must be page aligned");
      for (const auto& x : mappings)
        if (m->iova < x.iova + x.size && x.iova < m->iova + m->size)
          return fail(EEXIST, "overlaps an existing mapping");
      mappings.push_back({m->iova, m->size});
      std::sort(mappings.begin(), mappings.end(), [](auto& a, auto& b) { return a.iova < b.iova; });
      return 0;
    }
    case VFIO_IOMMU_UNMAP_DMA:
      rec.request = "VFIO_IOMMU_UNMAP_DMA";
      return unmap_dma(arg);
    case VFIO_IOMMU_GET_INFO:
      rec.request = "VFIO_IOMMU_GET_INFO";
      return iommu_info(arg);
    case VFIO_IOMMU_DIRTY_PAGES:
      return dirty_pages(arg);
  }
  rec.request = "ioctl " + std::to_string(request);
  return fail(ENOTTY, "not an ioctl of a VFIO container");
}

long Frontend::Impl::iommu_info(void* arg) {
  if (!arg) return fail(EFAULT, "no argument buffer");
  auto* info = static_cast<vfio_iommu_type1_info*>(arg);
  constexpr uint32_t kMinsz = offsetof(vfio_iommu_type1_info, iova_pgsizes) + 8;
  constexpr uint32_t kCapsz = offsetof(vfio_iommu_type1_info, cap_offset) + 4;
  if (info->argsz < kMinsz) return fail(EINVAL, "argsz too small");
  info->flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
  info->iova_pgsizes = kIommuPage;
  constexpr uint32_t kMigCap = sizeof(vfio_iommu_type1_info_cap_migration);
  constexpr uint32_t kAvailCap = sizeof(vfio_iommu_type1_info_dma_avail);
  constexpr uint32_t kNeeded = sizeof(vfio_iommu_type1_info) + kMigCap + kAvailCap;
  rec.args = "argsz=" + std::to_string(info->argsz);
  if (info->argsz < kNeeded) {
    if (info->argsz >= kCapsz) info->cap_offset = 0;
    info->argsz = kNeeded;
    note("buffer too small for the capabilities: argsz raised to " + std::to_string(kNeeded));
    return 0;
  }
  auto* base = static_cast<uint8_t*>(arg);
  constexpr uint32_t kMigAt = sizeof(vfio_iommu_type1_info), kAvailAt = kMigAt + kMigCap;
  vfio_iommu_type1_info_cap_migration mig{};
  mig.header = {VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 1, kAvailAt};
  mig.flags = 0;
  mig.pgsize_bitmap = kIommuPage;
  mig.max_dirty_bitmap_size = kMaxDirtyBitmap;
  std::memcpy(base + kMigAt, &mig, kMigCap);
  vfio_iommu_type1_info_dma_avail avail{};
  avail.header = {VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 1, 0};
  avail.avail = dma_avail();
  std::memcpy(base + kAvailAt, &avail, kAvailCap);
  info->cap_offset = kMigAt;
  return 0;
}

uint32_t Frontend::Impl::dma_avail() const {
  return static_cast<uint32_t>(kDmaEntryLimit -
                               std::min<uint64_t>(kDmaEntryLimit, mappings.size()));
}

const Frontend::Impl::Mapping* Frontend::Impl::find_mapping(uint64_t iova, uint64_t size) const {
  for (const auto& m : mappings)
    if (iova < m.iova + m.size && iova + size > m.iova) return &m;
  return nullptr;
}

bool Frontend::Impl::splits_a_mapping(uint64_t iova, uint64_t size) const {
  const Mapping* first = find_mapping(iova, 1);
  if (first && first->iova != iova) return true;
  const Mapping* last = find_mapping(iova + size - 1, 1);
  return last && last->iova + last->size != iova + size;
}

bool Frontend::Impl::bitmap_size_ok(uint64_t size, const vfio_bitmap& b) {
  const uint64_t npages = b.pgsize ? size >> __builtin_ctzll(b.pgsize) : 0;
  return npages != 0 && b.size != 0 && b.size <= kMaxDirtyBitmap &&
         b.size >= (npages + 63) / 64 * 8;
}

long Frontend::Impl::mark_pinned(uint64_t* bitmap, uint64_t base, const Mapping& m) {
  if (bitmap == nullptr) return -1;
  long marked = 0;
  for (const auto& r : dev.pinned_guest_pages()) {
    const uint64_t first = r.first_page * opt.guest_page_size,
                   end = (r.first_page + r.count) * opt.guest_page_size;
    for (uint64_t a = std::max(first, m.iova); a < std::min(end, m.iova + m.size);
         a += kIommuPage) {
      const uint64_t k = (a - base) / kIommuPage;
      bitmap[k / 64] |= uint64_t{1} << (k % 64);
      ++marked;
    }
  }
  return marked;
}

long Frontend::Impl::unmap_dma(void* arg) {
  if (!arg) return fail(EFAULT, "no argument buffer");
  auto* u = static_cast<vfio_iommu_type1_dma_unmap*>(arg);
  if (u->argsz < sizeof(*u)) return fail(EINVAL, "argsz too small");
  constexpr uint32_t kDirty = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, kAll = VFIO_DMA_UNMAP_FLAG_ALL,
                     kVaddr = VFIO_DMA_UNMAP_FLAG_VADDR;
  rec.args = "iova=" + std::to_string(u->iova) + " size=" + std::to_string(u->size) +
             " flags=" + std::to_string(u->flags);
  if (u->flags & ~(kDirty | kAll | kVaddr)) return fail(EINVAL, "unknown bits in flags");
  if ((u->flags & kDirty) && (u->flags & (kAll | kVaddr)))
    return fail(EINVAL, "GET_DIRTY_BITMAP cannot be combined with ALL or VADDR");
  vfio_bitmap bitmap{};
  if (u->flags & kDirty) {
    if (u->argsz < sizeof(*u) + sizeof(vfio_bitmap))
      return fail(EINVAL, "GET_DIRTY_BITMAP needs argsz >= 48 (a struct vfio_bitmap follows)");
    std::memcpy(&bitmap, u->data, sizeof bitmap);
    if (!bitmap_size_ok(u->size, bitmap))
      return fail(EINVAL, "bitmap.size must hold one bit per page (and at most 256 MiB)");
  }
  const bool all = u->flags & kAll;
  uint64_t size = u->size;
  if (u->iova % kIommuPage) return fail(EINVAL, "iova is not page aligned");
  if (all) {
    if (u->iova || u->size) return fail(EINVAL, "UNMAP_FLAG_ALL needs iova = size = 0");
    size = UINT64_MAX;
  } else if (size == 0 || size % kIommuPage || u->iova + size - 1 < u->iova) {
    return fail(EINVAL, "size must be page aligned, non-zero and not wrap");
  }
  if ((u->flags & kDirty) && (!dirty_tracking || bitmap.pgsize != kIommuPage))
    return fail(EINVAL, "GET_DIRTY_BITMAP needs dirty tracking started and pgsize 4096");
  if (u->flags & kVaddr)
    return fail(EINVAL, "UNMAP_FLAG_VADDR is refused while an mdev is in the container");
  const bool v2 = iommu_type == VFIO_TYPE1v2_IOMMU;
  if (v2 && !all && splits_a_mapping(u->iova, size))
    return fail(EINVAL, "the range would cut a DMA mapping in two");
  uint64_t unmapped = 0;
  long marked = 0;
  const uint64_t end = all ? UINT64_MAX : u->iova + size - 1;
  for (auto it = mappings.begin(); it != mappings.end();) {
    if (it->iova + it->size - 1 < u->iova) {
      ++it;
      continue;
    }
    if (it->iova > end) break;
    if (!v2 && u->iova > it->iova) break;  // type1 v1: an unmap inside a mapping unmaps nothing
    if (u->flags & kDirty) {
      const long n = mark_pinned(reinterpret_cast<uint64_t*>(bitmap.data), u->iova, *it);
      if (n < 0) return fail(EFAULT, "bitmap.data cannot be written");
      marked += n;
    }
    unmapped += it->size;
    it = mappings.erase(it);
  }
  u->size = unmapped;
  if (unmapped == 0) note("no mapping in the range: nothing unmapped, size = 0");
  if (u->flags & kDirty)
    note(std::to_string(marked) + " pages pinned by the device are reported dirty");
  return 0;
}

long Frontend::Impl::dirty_pages(void* arg) {
  rec.request = "VFIO_IOMMU_DIRTY_PAGES";
  if (!arg) return fail(EFAULT, "no argument buffer");
  auto* d = static_cast<vfio_iommu_type1_dirty_bitmap*>(arg);
  if (iommu_type == VFIO_TYPE1_IOMMU)
    return fail(EACCES, "dirty tracking needs a TYPE1v2 container");
  if (d->argsz < sizeof(*d)) return fail(EINVAL, "argsz is smaller than 8");
  const uint32_t all = VFIO_IOMMU_DIRTY_PAGES_FLAG_START | VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
                       VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
  if ((d->flags & ~all) || __builtin_popcount(d->flags) != 1)
    return fail(EINVAL, "flags must be exactly one of START, STOP, GET_BITMAP");
  if (d->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
    rec.request += "(START)";
    dirty_tracking = true;
    return 0;
  }
  if (d->flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
    rec.request += "(STOP)";
    dirty_tracking = false;
    return 0;
  }
  rec.request += "(GET_BITMAP)";
  if (d->argsz < sizeof(*d) + sizeof(vfio_iommu_type1_dirty_bitmap_get))
    return fail(EINVAL, "argsz leaves less than the 40-byte range description");
  auto* g = reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(d->data);
  rec.args = "iova=" + std::to_string(g->iova) + " size=" + std::to_string(g->size);
  // vfio_iommu_type1_dirty_pages(), in its order.
  if (g->iova + g->size < g->iova) return fail(EINVAL, "iova + size wraps around");
  if (!bitmap_size_ok(g->size, g->bitmap))
    return fail(EINVAL, "bitmap.size must hold one bit per page (and at most 256 MiB)");
  if (g->bitmap.pgsize != kIommuPage)
    return fail(EINVAL, "bitmap.pgsize must be the IOMMU page size (4096)");
  if (g->size == 0 || g->iova % kIommuPage || g->size % kIommuPage)
    return fail(EINVAL, "iova and size must be page aligned and non-zero");
  if (!dirty_tracking) return fail(EINVAL, "dirty tracking is not started");
  // vfio_iova_dirty_bitmap(): only a cut mapping is refused; the bitmap is
  // written once per mapping in the range (so a NULL one faults only then).
  if (splits_a_mapping(g->iova, g->size))
    return fail(EINVAL, "the range would cut a DMA mapping in two");
  uint64_t marked = 0, covered = 0;
  for (const auto& m : mappings) {
    if (m.iova < g->iova || m.iova > g->iova + g->size - 1) continue;
    const long n = mark_pinned(reinterpret_cast<uint64_t*>(g->bitmap.data), g->iova, m);
    if (n < 0) return fail(EFAULT, "bitmap.data cannot be written");
    marked += static_cast<uint64_t>(n);
    ++covered;
  }
  if (covered == 0) note("no DMA mapping in the range: nothing reported");
  note(std::to_string(marked) +
       " pages pinned by the device are reported dirty (type1 reports pinned pages in every "
       "report)");
  return 0;
}

}  // namespace mdevsim::vfio
