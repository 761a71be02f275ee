#include "data_stream.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "sim_thread.h"

namespace mdevsim::vfio_host {

namespace {

constexpr uint32_t kHeaderRecord = 1, kPageRecord = 2;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// fn on the simulation thread, waiting; false once it has ended.
template <class F>
bool run(SimThread& sim, F&& fn) {
  try {
    sim.run(fn);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace

// ------------------------------------------------------------ framing

bool PageFraming::pages_only(const uint8_t* p, size_t n) {
  bool only = !other_;
  while (n > 0 && !other_) {
    if (skip_ > 0) {
      const size_t k = static_cast<size_t>(std::min<uint64_t>(skip_, n));
      skip_ -= k;
      p += k;
      n -= k;
      continue;
    }
    const size_t k = std::min(sizeof hdr_ - fill_, n);
    std::memcpy(hdr_ + fill_, p, k);
    fill_ += k;
    p += k;
    n -= k;
    if (fill_ < sizeof hdr_) {
      only = false;  // a header cut in two: its type is not known yet
      break;
    }
    fill_ = 0;
    uint32_t type, zero;
    uint64_t len;
    std::memcpy(&type, hdr_, 4);
    std::memcpy(&zero, hdr_ + 4, 4);
    std::memcpy(&len, hdr_ + 8, 8);
    if (first_ && type == kHeaderRecord && zero == 0 && len < 4096) {
      first_ = false;
      in_page_ = false;
      skip_ = len;
      continue;
    }
    first_ = false;
    if (page_len_ == 0 && type == kPageRecord && zero == 0) page_len_ = len;
    in_page_ = type == kPageRecord && zero == 0 && len == page_len_;
    if (!in_page_) {
      other_ = true;  // the state or end record, or bytes it does not know
      return false;
    }
    skip_ = len;
  }
  return only && in_page_;
}

// ------------------------------------------------------------ save side

long DataStream::read(void* buf, size_t len) {
  std::unique_lock lk(mu_);
  for (;;) {
    if (!ahead_.empty()) return serve(lk, buf, len);
    if (!refilling_) break;
    cv_.wait(lk);
  }
  lk.unlock();
  // Nothing read ahead: this read goes to the device; in STOP_COPY the same
  // task reads ahead for the next ones.
  long r = -ENODEV;
  run(sim_, [&](SimHost& h) {
    r = h.call(&vfio::Frontend::read, inner_, buf, len);
    if (r > 0 && static_cast<size_t>(r) == len && h.frontend().state_name() == "STOP_COPY")
      fill(h, len);
  });
  return r;
}

void DataStream::fill(SimHost& h, size_t seg_len) {
  std::vector<Segment> got;
  bool ended = false;
  size_t have;
  {
    std::lock_guard lk(mu_);
    have = buffered_;
    if (dropped_ || ended_) have = kAhead;
  }
  while (have < kAhead) {
    Segment s;
    {
      std::lock_guard lk(mu_);
      if (!spare_.empty() && spare_len_ == seg_len) {
        s.bytes = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (!s.bytes) s.bytes.reset(new uint8_t[seg_len]);  // uninitialised: the device fills it
    s.ret = h.read_held(inner_, s.bytes.get(), seg_len, s.records);
    s.size = s.ret > 0 ? static_cast<size_t>(s.ret) : 0;
    have += s.size;
    got.push_back(std::move(s));
    if (got.back().ret < 0 || got.back().size < seg_len) {
      ended = true;  // the end of the stream (0 or short) or an error: nothing follows
      break;
    }
  }
  std::lock_guard lk(mu_);
  if (!dropped_) {
    for (auto& s : got) {
      buffered_ += s.size;
      ahead_.push_back(std::move(s));
    }
    ended_ = ended_ || ended;
    spare_len_ = seg_len;
  }
  refilling_ = false;
  cv_.notify_all();
}

long DataStream::serve(std::unique_lock<std::mutex>& lk, void* buf, size_t len) {
  Segment& s = ahead_.front();
  long ret = s.ret;
  std::vector<vfio::CallRecord> records;
  if (s.ret > 0) {
    const size_t n = std::min(len, s.size - s.off);
    std::memcpy(buf, s.bytes.get() + s.off, n);
    s.off += n;
    buffered_ -= n;
    ret = static_cast<long>(n);
  }
  if (s.ret <= 0 || s.off == s.size) {
    records = std::move(s.records);
    if (s.bytes && spare_.size() < 4) spare_.push_back(std::move(s.bytes));
    ahead_.pop_front();
  } else {
    records = s.records;  // QEMU read less than the segment: one record per read
  }
  const bool refill = !ended_ && !refilling_ && !dropped_ && buffered_ < kLow;
  if (refill) refilling_ = true;
  const size_t seg_len = spare_len_;
  lk.unlock();
  // Traced at the thread's next tick, before any later call of QEMU's.
  sim_.post([records = std::move(records), ret,
             at = monotonic_ns()](SimHost& h) mutable { h.replay(std::move(records), ret, at); },
            false);
  if (refill &&
      !sim_.post([self = shared_from_this(), seg_len](SimHost& h) { self->fill(h, seg_len); })) {
    lk.lock();
    refilling_ = false;
    cv_.notify_all();
    lk.unlock();
  }
  return ret;
}

void DataStream::drop() {
  std::lock_guard lk(mu_);
  dropped_ = true;
  ahead_.clear();
  buffered_ = 0;
  cv_.notify_all();
}

// ------------------------------------------------------------ resume side

long DataStream::write(const void* buf, size_t len) {
  std::unique_lock lk(mu_);
  const bool pages = buf != nullptr && framing_.pages_only(static_cast<const uint8_t*>(buf), len);
  if (!(pages && accepting_ && !failed_ && len > 0 && queued_ + len <= kBehind)) {
    lk.unlock();
    return write_now(buf, len);
  }
  // Wake the simulation thread once a batch is worth it (else its tick
  // picks the writes up): a wake-up per 32 KiB write costs more than the write.
  const bool wake = queued_ < kWakeBytes && queued_ + len >= kWakeBytes;
  queued_ += len;
  lk.unlock();
  std::vector<uint8_t> copy(static_cast<const uint8_t*>(buf),
                            static_cast<const uint8_t*>(buf) + len);
  const bool posted = sim_.post(
      [self = shared_from_this(), copy = std::move(copy)](SimHost& h) {
        const long r = h.write_behind(self->inner_, copy.data(), copy.size());
        std::lock_guard g(self->mu_);
        self->queued_ -= copy.size();
        if (r != static_cast<long>(copy.size())) self->failed_ = true;
      },
      wake);
  if (!posted) {
    std::lock_guard g(mu_);
    queued_ -= len;
    return -ENODEV;
  }
  return static_cast<long>(len);
}

long DataStream::write_now(const void* buf, size_t len) {
  long r = -ENODEV;
  // Behind every queued write: their failure decides this answer.
  run(sim_, [&](SimHost& h) { r = h.call(&vfio::Frontend::write, inner_, buf, len); });
  std::lock_guard lk(mu_);
  if (r >= 0 && static_cast<size_t>(r) == len)
    accepting_ = true;
  else
    failed_ = true;
  return r;
}

}  // namespace mdevsim::vfio_host
