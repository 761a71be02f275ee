// Device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT):
// the device reports the pages its DMA wrote.
#include "frontend_impl.h"

namespace mdevsim::vfio {

namespace {

bool pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

long Frontend::Impl::logging_start(vfio_device_feature_dma_logging_control& c) {
  constexpr uint32_t kMaxRanges =
      4096 / sizeof(vfio_device_feature_dma_logging_range);  // PAGE_SIZE / 16
  rec.args =
      "page_size=" + std::to_string(c.page_size) + " num_ranges=" + std::to_string(c.num_ranges);
  if (c.num_ranges == 0) return fail(EINVAL, "num_ranges is 0");
  if (c.num_ranges > kMaxRanges) return fail(E2BIG, "more than 256 ranges");
  const auto* ranges = reinterpret_cast<const vfio_device_feature_dma_logging_range*>(c.ranges);
  // vfio_ioctl_device_feature_logging_start(): each range in turn, so the
  // first bad one decides the errno. page_size is a hint (no power-of-two
  // check); alignment is the kernel's IS_ALIGNED(x, page_size), a mask test.
  const uint64_t mask = c.page_size - 1;
  std::vector<std::pair<uint64_t, uint64_t>> accepted;  // [first, last]
  for (uint32_t i = 0; i < c.num_ranges; ++i) {
    if (ranges == nullptr) return fail(EFAULT, "ranges points nowhere");
    const auto& r = ranges[i];
    const std::string which = "range " + std::to_string(i);
    if ((r.iova & mask) || (r.length & mask))
      return fail(EINVAL, which + " is not aligned to page_size");
    if (r.iova + r.length < r.iova) return fail(EOVERFLOW, which + " wraps around");
    const uint64_t last = r.iova + r.length - 1;
    for (const auto& [a, b] : accepted)
      if (r.iova <= b && a <= last) return fail(EINVAL, which + " overlaps an earlier range");
    accepted.emplace_back(r.iova, last);
  }
  if (logging) return fail(EINVAL, "logging already started: STOP first (one START until STOP)");
  // [sim] the driver's choice, copied back: the hint rounded down to a power
  // of two (as mlx5 does with ilog2), at least 4 KiB.
  uint64_t chosen = kIommuPage;
  while (chosen * 2 != 0 && chosen * 2 <= c.page_size) chosen *= 2;
  if (chosen != c.page_size)
    note("page_size " + std::to_string(c.page_size) + " is a hint: logging uses " +
         std::to_string(chosen));
  c.page_size = chosen;
  logging = true;
  logging_page_size = c.page_size;
  dev.dma_logging_start(c.page_size);
  note("device DMA writes are now logged at " + std::to_string(c.page_size) + "-byte granularity");
  return 0;
}

long Frontend::Impl::logging_report(vfio_device_feature_dma_logging_report& r) {
  rec.args = "iova=" + std::to_string(r.iova) + " length=" + std::to_string(r.length) +
             " page_size=" + std::to_string(r.page_size);
  if (r.page_size < 4096 || !pow2(r.page_size))
    return fail(EINVAL, "page_size must be a power of two >= 4096");
  if (r.iova + r.length < r.iova) return fail(EOVERFLOW, "iova + length wraps around");
  if (!logging) return fail(EINVAL, "DMA logging is not started");
  auto* bitmap = reinterpret_cast<uint64_t*>(r.bitmap);
  if (bitmap == nullptr) return fail(EFAULT, "bitmap points nowhere");
  uint64_t bits = 0;
  for (uint64_t addr : dev.dma_logging_report(r.iova, r.length, r.page_size)) {
    if (addr < r.iova || addr >= r.iova + r.length) continue;
    const uint64_t k = (addr - r.iova) / r.page_size;
    bitmap[k / 64] |= uint64_t{1} << (k % 64);  // only sets bits; the user zeroes the bitmap
    ++bits;
  }
  note(std::to_string(bits) +
       " pages written by device DMA since the last report (the log is now clear)");
  return 0;
}

}  // namespace mdevsim::vfio
