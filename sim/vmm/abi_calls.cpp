#include "vmm/abi_calls.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"

namespace mdevsim::vmm {

namespace {

template <typename Payload>
using Feature = vfio::FeatureBuf<Payload>;

long device_feature(Frontend& fe, void* raw) {
  return fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw);
}

// VFIO_IOMMU_DIRTY_PAGES takes its header and, for GET_BITMAP, a
// vfio_iommu_type1_dirty_bitmap_get after it (the header ends in data[]).
struct Type1Buf {
  alignas(8) uint8_t
      raw[sizeof(vfio_iommu_type1_dirty_bitmap) + sizeof(vfio_iommu_type1_dirty_bitmap_get)] = {};
  vfio_iommu_type1_dirty_bitmap& hdr = *reinterpret_cast<vfio_iommu_type1_dirty_bitmap*>(raw);
  vfio_iommu_type1_dirty_bitmap_get& get = *reinterpret_cast<vfio_iommu_type1_dirty_bitmap_get*>(
      raw + sizeof(vfio_iommu_type1_dirty_bitmap));
  Type1Buf(uint32_t flags, uint32_t argsz) {
    hdr.argsz = argsz;
    hdr.flags = flags;
  }
};

long type1_flag(Frontend& fe, uint32_t flag) {
  Type1Buf b(flag, sizeof(vfio_iommu_type1_dirty_bitmap));
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_DIRTY_PAGES, b.raw);
}

}  // namespace

long feature_probe(Frontend& fe, uint32_t feature, uint32_t access) {
  vfio_device_feature hdr{};
  hdr.argsz = sizeof(hdr);
  hdr.flags = VFIO_DEVICE_FEATURE_PROBE | access | feature;
  return device_feature(fe, &hdr);
}

long get_migration_flags(Frontend& fe, uint64_t& flags) {
  Feature<vfio_device_feature_migration> f(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION);
  const long r = device_feature(fe, f.raw);
  flags = r < 0 ? 0 : f.payload.flags;
  return r;
}

long get_device_state(Frontend& fe, uint32_t& state, int* data_fd) {
  Feature<vfio_device_feature_mig_state> f(VFIO_DEVICE_FEATURE_GET |
                                           VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  f.payload.data_fd = kDataFdUnwritten;
  const long r = device_feature(fe, f.raw);
  state = f.payload.device_state;
  if (data_fd) *data_fd = f.payload.data_fd;
  return r;
}

long set_device_state(Frontend& fe, uint32_t state, int* data_fd) {
  Feature<vfio_device_feature_mig_state> f(VFIO_DEVICE_FEATURE_SET |
                                           VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  f.payload.device_state = state;
  f.payload.data_fd = kDataFdUnwritten;
  const long r = device_feature(fe, f.raw);
  if (data_fd) *data_fd = f.payload.data_fd;
  return r;
}

long get_data_size(Frontend& fe, uint64_t& stop_copy_length) {
  Feature<vfio_device_feature_mig_data_size> f(VFIO_DEVICE_FEATURE_GET |
                                               VFIO_DEVICE_FEATURE_MIG_DATA_SIZE);
  const long r = device_feature(fe, f.raw);
  stop_copy_length = f.payload.stop_copy_length;
  return r;
}

long get_precopy_info(Frontend& fe, int data_fd, uint64_t& initial_bytes, uint64_t& dirty_bytes) {
  vfio_precopy_info info{};
  info.argsz = sizeof(info);
  const long r = fe.ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
  initial_bytes = info.initial_bytes;
  dirty_bytes = info.dirty_bytes;
  return r;
}

long dma_logging_start(Frontend& fe, uint64_t page_size,
                       const std::vector<vfio_device_feature_dma_logging_range>& ranges) {
  Feature<vfio_device_feature_dma_logging_control> f(VFIO_DEVICE_FEATURE_SET |
                                                     VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
  f.payload.page_size = page_size;
  f.payload.num_ranges = static_cast<uint32_t>(ranges.size());
  f.payload.ranges = reinterpret_cast<uint64_t>(ranges.data());
  return device_feature(fe, f.raw);
}

long dma_logging_stop(Frontend& fe) {
  vfio_device_feature hdr{};
  hdr.argsz = sizeof(hdr);
  hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
  return device_feature(fe, &hdr);
}

long dma_logging_report(Frontend& fe, uint64_t iova, uint64_t length, uint64_t page_size,
                        uint64_t* bitmap) {
  Feature<vfio_device_feature_dma_logging_report> f(VFIO_DEVICE_FEATURE_GET |
                                                    VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT);
  f.payload.iova = iova;
  f.payload.length = length;
  f.payload.page_size = page_size;
  f.payload.bitmap = reinterpret_cast<uint64_t>(bitmap);
  return device_feature(fe, f.raw);
}

long device_reset(Frontend& fe) { return fe.ioctl(fe.device_fd(), VFIO_DEVICE_RESET, nullptr); }

StreamResult read_data(Frontend& fe, int fd, std::vector<uint8_t>& out, uint64_t max_bytes,
                       size_t chunk) {
  StreamResult s;
  while (s.bytes < max_bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, max_bytes - s.bytes));
    const size_t at = out.size();
    out.resize(at + want);
    s.last = fe.read(fd, out.data() + at, want);
    out.resize(at + static_cast<size_t>(std::max<long>(s.last, 0)));
    if (s.last <= 0) return s;
    s.bytes += static_cast<uint64_t>(s.last);
  }
  return s;
}

StreamResult write_data(Frontend& fe, int fd, const uint8_t* data, size_t len, size_t chunk) {
  StreamResult s;
  while (s.bytes < len) {
    const size_t want = std::min<size_t>(chunk, len - s.bytes);
    s.last = fe.write(fd, data + s.bytes, want);
    if (s.last <= 0) return s;
    s.bytes += static_cast<uint64_t>(s.last);
  }
  return s;
}

StreamResult copy_data(Frontend& src, int save_fd, Frontend& dst, int resume_fd, uint64_t max_bytes,
                       size_t chunk, std::vector<uint8_t>& buf) {
  StreamResult s;
  if (buf.size() < chunk) buf.resize(chunk);
  while (s.bytes < max_bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk, max_bytes - s.bytes));
    s.last = src.read(save_fd, buf.data(), want);
    if (s.last <= 0) return s;
    const auto w = write_data(dst, resume_fd, buf.data(), static_cast<size_t>(s.last), chunk);
    if (w.bytes != static_cast<uint64_t>(s.last)) {
      s.bytes += w.bytes;
      s.last = w.last < 0 ? w.last : -EIO;  // a write of 0: the stream was not taken
      return s;
    }
    s.bytes += w.bytes;
  }
  return s;
}

long postcopy_request(Frontend& fe, int fd, uint64_t first_page, uint64_t count, uint32_t flags,
                      uint64_t& queued) {
  vfio_mig_postcopy_request q{};
  q.argsz = sizeof(q);
  q.flags = flags;
  q.first_page = first_page;
  q.count = count;
  const long r = fe.ioctl(fd, VFIO_MIG_POSTCOPY_REQUEST, &q);
  queued = q.queued;
  return r;
}

long postcopy_faults(Frontend& fe, int fd, std::vector<uint64_t>& pages, uint64_t& missing) {
  vfio_mig_postcopy_faults q{};
  q.argsz = VFIO_MIG_POSTCOPY_FAULTS_MINSZ;  // the fields up to `missing`: no extension
  q.capacity = pages.size();
  q.pages = reinterpret_cast<uint64_t>(pages.data());
  const long r = fe.ioctl(fd, VFIO_MIG_POSTCOPY_FAULTS, &q);
  pages.resize(std::min<uint64_t>(q.count, pages.size()));
  missing = q.missing;
  return r;
}

long postcopy_faults_ext(Frontend& fe, int fd, bool want_eventfd, std::vector<uint64_t>& pages,
                         PostcopyFaults& out) {
  vfio_mig_postcopy_faults q{};
  q.argsz = sizeof(q);
  q.flags = want_eventfd ? VFIO_MIG_POSTCOPY_FAULTS_EVENTFD : 0;
  q.capacity = pages.size();
  q.pages = reinterpret_cast<uint64_t>(pages.data());
  q.eventfd = -1;
  const long r = fe.ioctl(fd, VFIO_MIG_POSTCOPY_FAULTS, &q);
  pages.resize(r < 0 ? 0 : std::min<uint64_t>(q.count, pages.size()));
  out.missing = q.missing;
  out.record_bytes = q.record_bytes;
  out.eventfd = q.eventfd;
  return r;
}

long eventfd_read(Frontend& fe, int fd, uint64_t& count) {
  count = 0;
  return fe.read(fd, &count, sizeof(count));
}

std::string v1_field_name(uint64_t offset) {
  switch (offset) {
    case kV1DeviceState:
      return "device_state";
    case kV1Reserved:
      return "reserved";
    case kV1PendingBytes:
      return "pending_bytes";
    case kV1DataOffset:
      return "data_offset";
    case kV1DataSize:
      return "data_size";
  }
  return "region offset " + std::to_string(offset);
}

ssize_t v1_pread(Frontend& fe, uint64_t offset, void* buf, size_t len) {
  return fe.pread(fe.device_fd(), buf, len, kV1Region + offset);
}

ssize_t v1_pwrite(Frontend& fe, uint64_t offset, const void* buf, size_t len) {
  return fe.pwrite(fe.device_fd(), buf, len, kV1Region + offset);
}

long v1_read_state(Frontend& fe, uint32_t& state) {
  state = 0;
  const long r = v1_pread(fe, kV1DeviceState, &state, sizeof(state));
  return r < 0 ? r : 0;
}

long v1_write_state(Frontend& fe, uint32_t state) {
  const long r = v1_pwrite(fe, kV1DeviceState, &state, sizeof(state));
  return r < 0 ? r : 0;
}

long v1_read_u64(Frontend& fe, uint64_t field, uint64_t& value) {
  value = 0;
  const long r = v1_pread(fe, field, &value, sizeof(value));
  if (r < 0) value = 0;
  return r < 0 ? r : 0;
}

long v1_write_u64(Frontend& fe, uint64_t field, uint64_t value) {
  const long r = v1_pwrite(fe, field, &value, sizeof(value));
  return r < 0 ? r : 0;
}

long v1_save_segment(Frontend& fe, std::vector<uint8_t>& out) {
  uint64_t pending = 0, offset = 0, size = 0;
  if (const long r = v1_read_u64(fe, kV1PendingBytes, pending); r < 0) return r;
  if (pending == 0) return 0;
  // Reading data_offset is what asks the device to stage the next segment.
  if (const long r = v1_read_u64(fe, kV1DataOffset, offset); r < 0) return r;
  if (const long r = v1_read_u64(fe, kV1DataSize, size); r < 0) return r;
  out.resize(size);
  if (size == 0) return 0;
  const ssize_t n = v1_pread(fe, offset, out.data(), size);
  if (n < 0) return n;
  if (static_cast<uint64_t>(n) != size) return -EIO;
  return static_cast<long>(size);
}

long v1_resume_segment(Frontend& fe, const uint8_t* data, uint64_t size) {
  uint64_t offset = 0;
  if (const long r = v1_read_u64(fe, kV1DataOffset, offset); r < 0) return r;
  const ssize_t n = v1_pwrite(fe, offset, data, size);
  if (n < 0) return n;
  return v1_write_u64(fe, kV1DataSize, size);
}

long v1_region_info(Frontend& fe, V1RegionInfo& out) {
  // Room for the fixed part and a capability chain (type + one sparse area
  // today); argsz too small would make the kernel ask for more.
  alignas(8) uint8_t buf[256] = {};
  auto* info = reinterpret_cast<vfio_region_info*>(buf);
  info->argsz = sizeof(buf);
  info->index = VFIO_PCI_NUM_REGIONS;
  const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_REGION_INFO, buf);
  out = V1RegionInfo{};
  out.index = info->index;
  out.flags = info->flags;
  out.size = info->size;
  out.offset = info->offset;
  if (r < 0 || !(info->flags & VFIO_REGION_INFO_FLAG_CAPS)) return r;
  for (uint32_t at = info->cap_offset;
       at != 0 && at + sizeof(vfio_info_cap_header) <= sizeof(buf);) {
    const auto* cap = reinterpret_cast<const vfio_info_cap_header*>(buf + at);
    if (cap->id == VFIO_REGION_INFO_CAP_TYPE &&
        at + sizeof(vfio_region_info_cap_type) <= sizeof(buf)) {
      const auto* t = reinterpret_cast<const vfio_region_info_cap_type*>(cap);
      out.type = t->type;
      out.subtype = t->subtype;
    } else if (cap->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
      const auto* s = reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(cap);
      for (uint32_t k = 0; k < s->nr_areas; ++k) {
        if (at + sizeof(*s) + (k + 1) * sizeof(s->areas[0]) > sizeof(buf)) break;
        out.sparse_areas.push_back(s->areas[k]);
      }
    }
    if (cap->next <= at) break;  // the chain only moves forward
    at = cap->next;
  }
  return r;
}

long type1_dirty_start(Frontend& fe) { return type1_flag(fe, VFIO_IOMMU_DIRTY_PAGES_FLAG_START); }

long type1_dirty_stop(Frontend& fe) { return type1_flag(fe, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP); }

long type1_dirty_get_bitmap(Frontend& fe, uint64_t iova, uint64_t size, uint64_t pgsize,
                            uint64_t* bitmap, uint64_t bitmap_bytes) {
  Type1Buf b(VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, sizeof(b.raw));
  b.get.iova = iova;
  b.get.size = size;
  b.get.bitmap.pgsize = pgsize;
  b.get.bitmap.size = bitmap_bytes;
  b.get.bitmap.data = reinterpret_cast<__u64*>(bitmap);
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_DIRTY_PAGES, b.raw);
}

}  // namespace mdevsim::vmm
