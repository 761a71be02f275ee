// QEMU's side of one v2 data fd: the device stream moves in bulk without a
// hand-off to the simulation thread per call (each costs two thread
// wake-ups: a few µs on an idle machine, milliseconds on a loaded one).
//
// Save fd, STOP_COPY: the device is stopped, so its stream is fixed. QEMU's
// first read goes to the device; that same task reads up to kAhead more in
// reads of QEMU's size, keeping their records. Later reads are served from
// those bytes; each one's record is traced then (SimHost::replay), so the
// trace still lists exactly QEMU's calls and results. Refills are posted
// before the buffer runs dry. Leaving STOP_COPY or closing the fd drops
// what QEMU did not read (the kernel drops unread data there too).
//
// Resume fd: a write whose bytes lie in page records (and whose framing
// the device will check) is answered at once and queued for the simulation
// thread; every other write (the first, the state and end records, any
// write after a failure or with a framing it does not recognise, a full
// queue) waits for everything before it and answers with the device's
// result. A page the device rejects therefore fails QEMU's next write at
// the latest, and never after the stream's end record.
//
// Everything else (PRE_COPY reads, ioctls) stays a synchronous hand-off.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "mdevsim/vfio/frontend.h"

namespace mdevsim::vfio_host {

class SimHost;
class SimThread;

// The record framing of the device's stream (models/src/device_stream.cpp):
// u32 type, u32 zero, u64 payload length, then the payload; type 2 is a page.
// Tells whether a write holds page-record bytes only.
class PageFraming {
 public:
  // Feeds the next bytes of the stream; true if they hold only page records
  // (or the rest of one), all as long as the first page record seen.
  bool pages_only(const uint8_t* p, size_t n);

 private:
  uint8_t hdr_[16] = {};
  size_t fill_ = 0;    // header bytes collected
  uint64_t skip_ = 0;  // payload bytes of the current record still to come
  uint64_t page_len_ = 0;
  bool in_page_ = false;
  bool first_ = true;   // the stream's header record comes first
  bool other_ = false;  // a record other than a page has been seen: no more guesses
};

class DataStream : public std::enable_shared_from_this<DataStream> {
 public:
  DataStream(SimThread& sim, int inner) : sim_(sim), inner_(inner) {}

  // QEMU's read()/write() on the fd: the result, or -errno.
  long read(void* buf, size_t len);
  long write(const void* buf, size_t len);

  // Simulation thread: the save session ended or the fd closed.
  void drop();

  static constexpr size_t kAhead = size_t{32} << 20;   // bytes read ahead
  static constexpr size_t kLow = size_t{16} << 20;     // refill below this
  static constexpr size_t kBehind = size_t{16} << 20;  // resume bytes queued at most
  static constexpr size_t kWakeBytes = size_t{1} << 20;

 private:
  struct Segment {
    std::unique_ptr<uint8_t[]> bytes;
    size_t size = 0, off = 0;
    long ret = 0;  // the device's answer: size, 0 at the end, or -errno
    std::vector<vfio::CallRecord> records;
  };
  void fill(SimHost& h, size_t seg_len);  // simulation thread
  long serve(std::unique_lock<std::mutex>& lk, void* buf, size_t len);
  long write_now(const void* buf, size_t len);

  SimThread& sim_;
  const int inner_;  // the frontend's fd
  std::mutex mu_;
  std::condition_variable cv_;
  // save side
  std::deque<Segment> ahead_;
  std::vector<std::unique_ptr<uint8_t[]>> spare_;
  size_t spare_len_ = 0, buffered_ = 0;
  bool refilling_ = false, ended_ = false, dropped_ = false;
  // resume side
  PageFraming framing_;
  size_t queued_ = 0;
  bool accepting_ = false, failed_ = false;
};

}  // namespace mdevsim::vfio_host
