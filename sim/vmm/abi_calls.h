// The VMM side's typed VFIO calls: each function is one call (or one loop of
// calls) a VMM makes on a vfio::Frontend, with the kernel's argument
// structures filled in and its answer returned as 0 / a count, or -errno.
// One copy for the migration driver, `mdevsim step`, the test fixtures, the
// fuzzers and the benchmarks. It knows the device only through the ABI: no
// mdevsim/models/ header may be included here.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mdevsim/vfio/uapi.h"

namespace mdevsim::vfio {
class Frontend;
}

namespace mdevsim::vmm {

using vfio::Frontend;

// ------------------------------------------------------------ v2 device features

// VFIO_DEVICE_FEATURE_PROBE of one feature: 0 when the device has it and
// supports `access` (VFIO_DEVICE_FEATURE_GET and/or _SET), else -errno.
long feature_probe(Frontend& fe, uint32_t feature, uint32_t access);

// MIGRATION: the device's migration flags (VFIO_MIGRATION_*).
long get_migration_flags(Frontend& fe, uint64_t& flags);

// What data_fd holds when the kernel did not write it (it writes -1 or an fd
// on every answer past its argument checks), so callers can tell.
inline constexpr int kDataFdUnwritten = -2;

// MIG_DEVICE_STATE GET: the current state value; `data_fd` receives what the
// kernel wrote there (-1 for a GET).
long get_device_state(Frontend& fe, uint32_t& state, int* data_fd = nullptr);
// MIG_DEVICE_STATE SET: 0 or -errno; `data_fd` receives the new data fd, -1
// when the arc opens no session. (A returned fd could not be told from
// -EPERM, hence the out-parameter.)
long set_device_state(Frontend& fe, uint32_t state, int* data_fd = nullptr);

// MIG_DATA_SIZE: the device's estimate of its stop-copy stream.
long get_data_size(Frontend& fe, uint64_t& stop_copy_length);

// VFIO_MIG_GET_PRECOPY_INFO on a save data fd.
long get_precopy_info(Frontend& fe, int data_fd, uint64_t& initial_bytes, uint64_t& dirty_bytes);

// DMA_LOGGING_START over ranges of IOVA space, DMA_LOGGING_STOP, and
// DMA_LOGGING_REPORT into `bitmap` (one bit per page_size; the caller zeroes
// it: the kernel only sets bits).
long dma_logging_start(Frontend& fe, uint64_t page_size,
                       const std::vector<vfio_device_feature_dma_logging_range>& ranges);
long dma_logging_stop(Frontend& fe);
long dma_logging_report(Frontend& fe, uint64_t iova, uint64_t length, uint64_t page_size,
                        uint64_t* bitmap);

long device_reset(Frontend& fe);

// ------------------------------------------------------------ v2 data fds

// A loop of read()s or write()s: `bytes` moved, and `last` the last call's
// return: 0 at the end of the stream, -errno when a call failed (-ENOMSG: no
// data now in PRE_COPY), > 0 when the limit was reached.
struct StreamResult {
  uint64_t bytes = 0;
  long last = 0;
};

// Reads up to max_bytes from a data fd, `chunk` bytes per read(), appending
// to `out`.
StreamResult read_data(Frontend& fe, int fd, std::vector<uint8_t>& out, uint64_t max_bytes,
                       size_t chunk);
// Writes all `len` bytes to a data fd, at most `chunk` per write().
StreamResult write_data(Frontend& fe, int fd, const uint8_t* data, size_t len, size_t chunk);
// Moves up to max_bytes from a save fd to a resume fd, one read() then one
// write() of `chunk` bytes at a time through `buf` (QEMU's loop); `last` is
// the read's return, or the write's -errno.
StreamResult copy_data(Frontend& src, int save_fd, Frontend& dst, int resume_fd, uint64_t max_bytes,
                       size_t chunk, std::vector<uint8_t>& buf);

// ------------------------------------------------------------ post-copy proposals

// VFIO_MIG_POSTCOPY_REQUEST on a serving save fd: `queued` pages queued.
long postcopy_request(Frontend& fe, int fd, uint64_t first_page, uint64_t count, uint32_t flags,
                      uint64_t& queued);
// VFIO_MIG_POSTCOPY_FAULTS on a resume fd (argsz 40, without the extension):
// up to pages.size() faults, `pages` resized to the count returned;
// `missing` pages still missing.
long postcopy_faults(Frontend& fe, int fd, std::vector<uint64_t>& pages, uint64_t& missing);
// The same call with the proposal's extension (argsz 56): also the bytes one
// missing page takes on the resume stream and, with `want_eventfd`
// (VFIO_MIG_POSTCOPY_FAULTS_EVENTFD), the session's fault eventfd.
struct PostcopyFaults {
  uint64_t missing = 0;
  uint64_t record_bytes = 0;
  int eventfd = -1;
};
long postcopy_faults_ext(Frontend& fe, int fd, bool want_eventfd, std::vector<uint64_t>& pages,
                         PostcopyFaults& out);
// read(2) of an eventfd's 8-byte count (zeroing it): 8, or -errno (-EAGAIN:
// the count was 0).
long eventfd_read(Frontend& fe, int fd, uint64_t& count);

// ------------------------------------------------------------ v1 migration region

// The migration region's file offset: the first device-specific region
// index, at vfio-pci's 40-bit region shift.
inline constexpr uint64_t kV1Region = uint64_t{VFIO_PCI_NUM_REGIONS} << 40;

// Fields of struct vfio_device_migration_info at offset 0 of the region.
inline constexpr uint64_t kV1DeviceState = offsetof(vfio_device_migration_info, device_state);
inline constexpr uint64_t kV1Reserved = offsetof(vfio_device_migration_info, reserved);
inline constexpr uint64_t kV1PendingBytes = offsetof(vfio_device_migration_info, pending_bytes);
inline constexpr uint64_t kV1DataOffset = offsetof(vfio_device_migration_info, data_offset);
inline constexpr uint64_t kV1DataSize = offsetof(vfio_device_migration_info, data_size);

// The header field at a region offset ("pending_bytes"), or "region offset N".
std::string v1_field_name(uint64_t offset);

// device_state (32 bits).
long v1_read_state(Frontend& fe, uint32_t& state);
long v1_write_state(Frontend& fe, uint32_t state);
// A 64-bit header field (kV1PendingBytes, kV1DataOffset, kV1DataSize).
long v1_read_u64(Frontend& fe, uint64_t field, uint64_t& value);
long v1_write_u64(Frontend& fe, uint64_t field, uint64_t value);
// Raw access at a region-relative offset, any width: the byte count or -errno.
ssize_t v1_pread(Frontend& fe, uint64_t offset, void* buf, size_t len);
ssize_t v1_pwrite(Frontend& fe, uint64_t offset, const void* buf, size_t len);

// One save iteration: pending_bytes, then data_offset and data_size, then the
// data. The segment's size (0: nothing pending or nothing more) or -errno;
// `out` holds the segment.
long v1_save_segment(Frontend& fe, std::vector<uint8_t>& out);
// One resume iteration: data_offset, the data written there, then data_size.
// 0 or -errno (the data_size write is where the device takes the segment).
long v1_resume_segment(Frontend& fe, const uint8_t* data, uint64_t size);

// VFIO_DEVICE_GET_REGION_INFO of the migration region with its capability
// chain walked: type/subtype and the sparse-mmap areas (the data section).
struct V1RegionInfo {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
  uint32_t type = 0, subtype = 0;  // 0: no type capability
  std::vector<vfio_region_sparse_mmap_area> sparse_areas;
};
long v1_region_info(Frontend& fe, V1RegionInfo& info);

// ------------------------------------------------------------ type1 dirty pages

// VFIO_IOMMU_DIRTY_PAGES on the container: START, STOP, and GET_BITMAP of
// [iova, iova+size) at pgsize into bitmap_bytes of `bitmap` (zeroed by the
// caller).
long type1_dirty_start(Frontend& fe);
long type1_dirty_stop(Frontend& fe);
long type1_dirty_get_bitmap(Frontend& fe, uint64_t iova, uint64_t size, uint64_t pgsize,
                            uint64_t* bitmap, uint64_t bitmap_bytes);

}  // namespace mdevsim::vmm
