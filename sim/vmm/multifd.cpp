#include "vmm/multifd.h"

#include <algorithm>
#include <limits>

#include "vmm/ram_saver.h"

namespace mdevsim::sim::vmm {

namespace {
// The channel thread's pace when its zero-page scan is slower than its
// share of the wire (as ram_saver.cpp's: the scan and the write overlap).
double scan_cap(double scan_bandwidth, uint64_t wire, uint64_t scanned) {
  if (scanned == 0) return std::numeric_limits<double>::infinity();
  return scan_bandwidth * static_cast<double>(wire) / static_cast<double>(scanned);
}
}  // namespace

Multifd::Multifd(MigrationContext& ctx, GuestRamPort& src, GuestRamPort& dst, uint32_t page_size,
                 uint32_t channels)
    : ctx_(ctx),
      src_(src),
      dst_(dst),
      page_(page_size),
      page_count_(std::max<uint64_t>(1, kMultifdPacketSize / page_size)),
      stats_(channels) {
  for (uint32_t i = 0; i < channels; ++i) {
    workers_.emplace_back();
    workers_.back().link_channel = ctx_.link.add_channel();
  }
}

uint64_t Multifd::packet_wire_bytes(uint64_t normal_pages) const {
  return packet_len() + normal_pages * page_ + kSliceChecksumBytes;
}

// One channel's thread (multifd_send_thread): waits for a job, scans and
// writes it, places its pages at the destination once it has arrived.
void Multifd::work(size_t i) {
  Worker& w = workers_[i];
  auto& channel = ctx_.link.channel(w.link_channel);
  for (;;) {
    while (!w.busy) sc_core::wait(w.go);
    Job& j = w.job;
    // The content leaves as the thread reads it, now.
    std::vector<std::pair<uint64_t, uint64_t>> data;
    for (uint64_t p : j.pages)
      if (const uint64_t t = src_.token(p); t != 0) data.emplace_back(p, t);
    const double cap = scan_cap(ctx_.scenario.vm.scan_bandwidth, j.wire, j.scanned);
    if (!channel.transfer(j.wire, j.limited, cap)) {
      if (channel.timed_out()) {
        // Cut off by the deadline: its pages are still to send.
        timed_out_ = true;
        unmoved_ += j.wire - channel.moved();
        for (uint64_t p : j.pages) src_.mark_dirty(p);
      } else {
        failed_ = true;
        ctx_.fail(ctx_.link.failure());
      }
    } else if (!data.empty()) {
      const uint64_t sent_sum = slice_checksum(data);
      if (const auto f = ctx_.take_corruption(CorruptTarget::kRam)) {
        auto& [page, token] = data[data.size() / 2];
        token ^= uint64_t{1} << 17;  // one bit flipped on the wire
        ctx_.result.faults[*f].effect = "flipped a bit of guest RAM page " + std::to_string(page) +
                                        " on multifd channel " + std::to_string(i) +
                                        "; the destination's packet checksum caught it";
      }
      if (slice_checksum(data) != sent_sum) {
        failed_ = true;
        ctx_.fail_outcome = "failed";
        ctx_.fail("guest RAM corrupted in transit: a multifd packet of " +
                  std::to_string(data.size()) + " pages on channel " + std::to_string(i) +
                  " did not match its checksum; the destination applied none of it");
      } else {
        for (const auto& [p, t] : data) dst_.set_token(p, t);
      }
    }
    auto& st = stats_[i];
    st.bytes += j.wire;
    st.packets +=
        j.zero_only > 0 ? (j.zero_only + page_count_ - 1) / page_count_ : (j.pages.empty() ? 0 : 1);
    st.pages += j.zero_only + j.pages.size();
    j = Job{};
    w.busy = false;
    idle_.notify();
  }
}

bool Multifd::setup() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    sc_core::sc_spawn([this, i] { work(i); }, sc_core::sc_gen_unique_name("multifd_send"));
  }
  // socket_send_channel_create: a TCP connect per channel, all at once.
  wait_s(2 * ctx_.link.latency_s());
  uint64_t bytes = 0;
  for (size_t i = 0; i < workers_.size(); ++i) {  // multifd_send_initial_packet
    Job j;
    j.wire = kMultifdInitPacket;
    if (!dispatch(std::move(j), bytes)) return false;
  }
  since_sync_ = true;  // ram_save_setup syncs the fresh channels
  const bool synced = flush_and_sync(false, bytes);
  ctx_.result.ram_bytes += bytes;
  return synced;
}

// multifd_send: the first idle channel from the round robin's start.
bool Multifd::dispatch(Job job, uint64_t& bytes) {
  for (;;) {
    if (!ok()) {
      for (uint64_t p : job.pages) src_.mark_dirty(p);  // never left
      return false;
    }
    for (size_t k = 0; k < workers_.size(); ++k) {
      const size_t i = (next_ + k) % workers_.size();
      Worker& w = workers_[i];
      if (w.busy) continue;
      next_ = (i + 1) % workers_.size();
      bytes += job.wire;
      w.job = std::move(job);
      w.busy = true;
      w.go.notify();
      since_sync_ = true;
      return true;
    }
    sc_core::wait(idle_);
  }
}

bool Multifd::dispatch_packet(bool limited, uint64_t& bytes) {
  Job j;
  j.limited = limited;
  j.pages.swap(queued_);
  uint64_t normal = 0;
  for (uint64_t p : j.pages) normal += src_.token(p) != 0;
  j.wire = packet_wire_bytes(normal);
  j.scanned = j.pages.size() * uint64_t{page_};
  return dispatch(std::move(j), bytes);
}

bool Multifd::send(const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes) {
  for (size_t i = 0; i < pages.size(); ++i) {
    queued_.push_back(pages[i]);
    if (queued_.size() == page_count_ && !dispatch_packet(limited, bytes)) {
      for (size_t k = i + 1; k < pages.size(); ++k) src_.mark_dirty(pages[k]);  // still to send
      return false;
    }
  }
  return ok();
}

bool Multifd::send_zero(uint64_t n, bool limited, uint64_t& bytes) {
  const uint64_t per_job = kZeroJobPackets * page_count_;
  while (n > 0) {
    Job j;
    j.limited = limited;
    j.zero_only = std::min(n, per_job);
    j.wire = (j.zero_only + page_count_ - 1) / page_count_ * packet_wire_bytes(0);
    j.scanned = j.zero_only * page_;
    n -= j.zero_only;
    // Cut off by the deadline: the destination starts zeroed, so the zero
    // pages not yet announced need nothing more.
    if (!dispatch(std::move(j), bytes)) return false;
  }
  return true;
}

bool Multifd::wait_all_idle() {
  for (;;) {
    bool idle = true;
    for (const auto& w : workers_) idle = idle && !w.busy;
    if (idle) return ok();
    sc_core::wait(idle_);
  }
}

bool Multifd::flush_and_sync(bool limited, uint64_t& bytes) {
  const bool flushed = queued_.empty() || dispatch_packet(limited, bytes);
  const bool sync = flushed && since_sync_;
  if (sync) {
    // multifd_send_sync_main: a sync packet behind each channel's last
    // job, then the migration thread waits for every channel.
    for (size_t i = 0; i < workers_.size() && ok(); ++i) {
      Worker& w = workers_[(next_ + i) % workers_.size()];
      while (w.busy && ok()) sc_core::wait(idle_);
      if (!ok()) break;
      Job j;
      j.limited = limited;
      j.wire = packet_len();
      bytes += j.wire;
      w.job = std::move(j);
      w.busy = true;
      w.go.notify();
    }
  }
  const bool all = wait_all_idle() && flushed;
  bytes -= std::min(bytes, unmoved_);  // what a deadline kept from arriving
  unmoved_ = 0;
  if (!all || !sync) return all;
  since_sync_ = false;
  ++syncs_;
  // RAM_SAVE_FLAG_MULTIFD_FLUSH on the main channel.
  auto& link = ctx_.link;
  if (!link.transfer(kMultifdFlushBytes, limited)) {
    if (!link.timed_out()) ctx_.fail(link.failure());
    return false;
  }
  bytes += kMultifdFlushBytes;
  return true;
}

bool Multifd::pass(uint64_t zero, const std::vector<uint64_t>& pages, bool limited,
                   uint64_t& bytes) {
  bool sent = send_zero(zero, limited, bytes);
  if (sent)
    sent = send(pages, limited, bytes);
  else
    for (uint64_t p : pages) src_.mark_dirty(p);  // still to send
  return flush_and_sync(limited, bytes) && sent;
}

bool Multifd::complete(const std::function<std::vector<uint64_t>()>& collect, uint64_t& bytes) {
  timed_out_ = false;  // the stop-copy runs to the end (what a deadline cut is dirty again)
  if (!flush_and_sync(false, bytes)) return false;
  return send(collect(), false, bytes) && flush_and_sync(false, bytes);
}

}  // namespace mdevsim::sim::vmm
