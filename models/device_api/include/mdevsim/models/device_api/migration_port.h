// The one narrow interface between a migratable device and the VFIO frontend.
//
// The frontend (vfio_frontend/) reproduces the kernel ABI and knows the device
// only through this header: quiesce/run, produce and consume state as a byte
// stream, and report the guest pages its DMA wrote. No SystemC type appears
// here, so the frontend can be tested against a fake device as well.
//
// Calls that take device time (stopping engines, applying state) block the
// calling SystemC thread for that simulated time when made from one, exactly
// as a real ioctl blocks its caller; from outside a thread they return at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mdevsim::models {

// What a device stream failure was, so the frontend can pick the kernel's errno.
enum class StreamError {
  kNone = 0,
  kTooLong,     // more bytes than any valid image could hold (mtty: ENOMEM)
  kBadHeader,   // magic/version/configuration mismatch (mtty: EFAULT)
  kCorrupt,     // checksum or record structure broken
  kIncomplete,  // commit before the end record arrived (mtty: EINVAL)
  kClosed,      // session ended (reset, state left): frontend says ENODEV
};

struct StreamStatus {
  StreamError error = StreamError::kNone;
  std::string message;  // human explanation: which record, which byte, what was expected
  bool ok() const { return error == StreamError::kNone; }
};

// An in-process handoff unit for the zero-copy path: a run of stream bytes
// described compactly (e.g. "page 17 with token T" stands for page_size bytes).
// Opaque to everyone but the device that produced it and the device that
// consumes it; size_bytes is exactly the number of stream bytes it stands for.
struct StreamChunk {
  uint64_t size_bytes = 0;
  uint32_t kind = 0;
  uint64_t a = 0, b = 0;       // meaning depends on kind (page index, token, ...)
  std::vector<uint8_t> bytes;  // literal bytes for kinds that carry them
};

// Device state leaving the device. Created when saving starts (v1 SAVING bit,
// v2 entering PRE_COPY or STOP_COPY from outside the saving group).
class SaveStream {
 public:
  virtual ~SaveStream() = default;

  // Pre-copy accounting (VFIO_MIG_GET_PRECOPY_INFO): initial_bytes = bytes of
  // the first full pass not yet read; dirty_bytes = bytes of state changed
  // after it was read and not yet re-read.
  virtual uint64_t initial_bytes() const = 0;
  virtual uint64_t dirty_bytes() const = 0;
  // Estimate of the bytes still needed to finish if the device stopped now
  // (VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, v1 pending_bytes in stop-and-copy).
  virtual uint64_t stop_copy_bytes() const = 0;

  // The device has stopped: the stream will now carry everything still
  // missing (dirty pages, internal state) and then end.
  virtual void finalize() = 0;
  virtual bool finalized() const = 0;

  // Reads up to out.size() bytes. Returns 0 when nothing is available now
  // (before finalize) or the stream has ended (after finalize, at_end()).
  virtual size_t read(std::span<uint8_t> out) = 0;
  virtual bool at_end() const = 0;
  virtual uint64_t bytes_produced() const = 0;

  // Zero-copy path: hands up to max_bytes of the stream as chunks. Same
  // stream position semantics as read(); mixing both is allowed.
  virtual uint64_t read_chunks(uint64_t max_bytes, std::vector<StreamChunk>& out) = 0;

  // Test hook for fault injection: flip the byte at absolute stream offset.
  virtual void corrupt_at(uint64_t stream_offset) = 0;

  // ---- post-copy (protocol proposals with a serving state) ----
  // The device has stopped and the destination will run before it has every
  // page: the stream now carries the switch package (internal state and the
  // list of pages the destination lacks) and ends it; afterwards it carries
  // only pages that were queued, each at most once.
  virtual bool finalize_postcopy() { return false; }
  virtual bool postcopy() const { return false; }
  // Queues [first, first+count) pages the destination asked for (those still
  // unsent); returns how many were queued.
  virtual uint64_t queue_pages(uint64_t /*first*/, uint64_t /*count*/) { return 0; }
  // Queues up to max_pages unsent pages in the device's push order
  // (hot_first: pages re-dirtied in most pre-copy passes first).
  virtual uint64_t queue_background(uint64_t /*max_pages*/, bool /*hot_first*/) { return 0; }
  virtual uint64_t postcopy_unsent() const { return 0; }
};

// Device state entering the device (v1 RESUMING, v2 RESUMING).
class ResumeStream {
 public:
  virtual ~ResumeStream() = default;
  // Accepts any segmentation. Nothing reaches device state until commit().
  virtual StreamStatus write(std::span<const uint8_t> in) = 0;
  virtual StreamStatus write_chunks(const std::vector<StreamChunk>& in) = 0;
  virtual uint64_t bytes_consumed() const = 0;
  // Validates the whole image and applies it atomically; on error nothing
  // is applied and the device keeps its pre-resume content.
  virtual StreamStatus commit() = 0;
  // Post-copy: validates and applies the switch package; the pages it lists
  // as missing fault until they arrive on this stream (placed at once).
  virtual StreamStatus commit_partial() {
    return {StreamError::kIncomplete, "this device cannot run while resuming"};
  }
};

struct GuestPageRange {
  uint64_t first_page = 0;  // guest page frame number (guest page size)
  uint64_t count = 0;
};

class MigratableDevice {
 public:
  virtual ~MigratableDevice() = default;

  // Stop means stop: after set_running(false) returns, no engine, DMA,
  // interrupt or register changes device state until set_running(true).
  virtual void set_running(bool running) = 0;
  virtual bool running() const = 0;
  // P2P quiescence (RUNNING_P2P / PRE_COPY_P2P): running, but no new
  // peer-to-peer DMA is initiated.
  virtual void set_p2p_quiesced(bool quiesced) = 0;
  virtual bool p2p_quiesced() const = 0;

  virtual std::unique_ptr<SaveStream> open_save_stream() = 0;
  // Size of a complete image if one were taken now, without starting a
  // session (VFIO_DEVICE_FEATURE_MIG_DATA_SIZE outside the saving states).
  virtual uint64_t full_image_bytes() const = 0;
  // Prepares the device to receive state (its content is replaced on commit).
  virtual std::unique_ptr<ResumeStream> open_resume_stream() = 0;

  // Function-level reset (VFIO_DEVICE_RESET): registers to reset values,
  // engines idle, device running. VRAM content is kept, as on real GPUs.
  virtual void reset() = 0;

  // Guest pages the device has pinned for DMA: the type1 IOMMU reports these
  // dirty in every dirty-bitmap report.
  virtual std::vector<GuestPageRange> pinned_guest_pages() const = 0;

  // Device-side DMA write logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*).
  // Addresses are guest-physical (IOVA == GPA, no vIOMMU); page_size is the
  // logging granularity chosen by the caller (power of two >= 4 KiB).
  virtual bool dma_logging_supported() const = 0;
  virtual void dma_logging_start(uint64_t page_size) = 0;
  virtual void dma_logging_stop() = 0;
  virtual bool dma_logging_active() const = 0;
  // Guest byte addresses written by device DMA since the last report in
  // [iova, iova+length), at page_size granularity; reporting clears them.
  virtual std::vector<uint64_t> dma_logging_report(uint64_t iova, uint64_t length,
                                                   uint64_t page_size) = 0;

  // Post-copy destination: pages touched while missing, not yet reported.
  virtual std::vector<uint64_t> take_faults() { return {}; }
  virtual uint64_t missing_pages() const { return 0; }
  // Post-copy destination: `notify` is called each time the device raises a
  // fault (from the thread that touched the missing page, before it waits),
  // so the frontend can signal its fault eventfd; an empty function stops
  // it. A device that cannot signal faults ignores it (the VMM then polls).
  virtual void set_fault_notify(std::function<void()> /*notify*/) {}
  // Post-copy: the stream bytes one missing page takes when it arrives on
  // the resume stream (0: no post-copy of device pages). The VMM counts what
  // it delivered by it; it never parses the stream.
  virtual uint64_t postcopy_page_record_bytes() const { return 0; }

  // A short stable description of the configuration that a resume stream
  // must match (shown in compatibility errors).
  virtual std::string compatibility_string() const = 0;

  // The device's MMIO registers as its PCI BAR0 (the VMM traps accesses
  // through the region): size in bytes (0: no BAR0) and 32-bit guest
  // accesses with the register file's rules; false for an offset that maps
  // no register.
  virtual uint32_t mmio_size() const { return 0; }
  virtual bool mmio_read(uint32_t /*offset*/, uint32_t& /*value*/) { return false; }
  virtual bool mmio_write(uint32_t /*offset*/, uint32_t /*value*/) { return false; }
};

}  // namespace mdevsim::models
