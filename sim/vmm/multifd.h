// QEMU's multifd for guest RAM (migration/multifd.c, multifd-nocomp.c,
// multifd-zero-page.c, ram.c as of QEMU 10.0), with
// `migration.multifd_channels` > 0:
// - the migration thread queues dirty pages into a packet of a fixed page
//   count (MULTIFD_PACKET_SIZE 512 KiB / page size); a full packet goes to
//   the next idle channel, round robin (multifd_send); with none idle the
//   thread waits for one;
// - each channel has its own thread and TCP connection (a link channel,
//   capped at link.stream_cap): it checks its pages for zeroes
//   (zero-page-detection=multifd, the default since 9.0: the scan at
//   vm.scan_bandwidth is paid per channel, in parallel) and writes the
//   packet header (pages' offsets) and the non-zero pages;
// - at setup and at the end of every pass over the dirty pages
//   (multifd_ram_flush_and_sync, per round since 9.0) the partial packet is
//   sent, every channel sends a sync packet and the migration thread waits
//   for all of them; the main channel carries RAM_SAVE_FLAG_MULTIFD_FLUSH.
//   A sync also comes before every dirty-bitmap sync that follows sends, so
//   that no page is in two packets in flight.
// The main channel (link channel 0) carries everything else: the device's
// data, the flush flags. See docs/migration.md "Multifd".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include <systemc>

#include "vmm/context.h"
#include "vmm/ports.h"

namespace mdevsim::sim::vmm {

inline constexpr uint64_t kMultifdPacketSize = 512 * 1024;  // MULTIFD_PACKET_SIZE
// sizeof(MultiFDPacket_t) without its offsets: header (magic, version,
// flags) 12, pages_alloc, normal_pages, next_packet_size 12, packet_num 8,
// zero_pages + unused32 8, unused64[3] 24, ramblock[256].
inline constexpr uint64_t kMultifdPacketHeader = 320;
inline constexpr uint64_t kMultifdInitPacket = 64;  // MultiFDInit_t, once per channel
inline constexpr uint64_t kMultifdFlushBytes = 8;   // RAM_SAVE_FLAG_MULTIFD_FLUSH (main channel)
// Never-written pages of the first pass go this many packets to a channel
// at a time (the same bytes and scan as packet by packet, fewer events).
inline constexpr uint64_t kZeroJobPackets = 64;

class Multifd {
 public:
  // Adds `channels` channels to the context's link (after the main one).
  Multifd(MigrationContext& ctx, GuestRamPort& src, GuestRamPort& dst, uint32_t page_size,
          uint32_t channels);

  uint64_t page_count() const { return page_count_; }  // pages per packet
  // On the wire: the packet (always with room for page_count offsets) and
  // mdevsim's 8-byte checksum (as RAM slices have, ram_saver.h).
  uint64_t packet_len() const { return kMultifdPacketHeader + 8 * page_count_; }
  uint64_t packet_wire_bytes(uint64_t normal_pages) const;

  // multifd_send_setup + ram_save_setup's flush and sync: the channels
  // connect (one round trip, in parallel), each sends its init packet and a
  // sync packet. Bytes go into ctx.result.ram_bytes.
  bool setup();
  // Queues pages; full packets go out. Returns once every full packet has
  // a channel (the last packets may still be in flight). False: a channel
  // failed (reason set) or the deadline cut a transfer short.
  bool send(const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes);
  // `n` pages never written (the first pass), as packets of zero pages.
  bool send_zero(uint64_t n, bool limited, uint64_t& bytes);
  // One pass of the passes loop: `zero` never-written pages, `pages`, then
  // the round's flush and sync. A deadline cut: what did not leave is dirty again.
  bool pass(uint64_t zero, const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes);
  // multifd_ram_flush_and_sync: the partial packet, then a sync packet on
  // every channel and the flush flag on the main one; waits until every
  // channel has sent all. Nothing since the last sync: nothing to do.
  bool flush_and_sync(bool limited, uint64_t& bytes);
  // ram_save_complete: what was in flight, the pages `collect` returns
  // (the last dirty sync, after that), then a final flush and sync.
  bool complete(const std::function<std::vector<uint64_t>()>& collect, uint64_t& bytes);

  bool timed_out() const { return timed_out_; }
  // Per channel, for tests and results.
  struct ChannelStats {
    uint64_t bytes = 0, packets = 0, pages = 0;
  };
  const std::vector<ChannelStats>& stats() const { return stats_; }
  uint64_t syncs() const { return syncs_; }

 private:
  struct Job {
    std::vector<uint64_t> pages;  // in order; the zero ones carry no data
    uint64_t zero_only = 0;       // a run of never-written pages (no list)
    uint64_t wire = 0, scanned = 0;
    bool limited = false;
  };
  struct Worker {
    size_t link_channel = 0;
    bool busy = false;
    Job job;
    sc_core::sc_event go;
  };
  void work(size_t i);
  bool dispatch(Job job, uint64_t& bytes);
  bool dispatch_packet(bool limited, uint64_t& bytes);
  bool wait_all_idle();
  bool ok() const { return !failed_ && !timed_out_; }

  MigrationContext& ctx_;
  GuestRamPort& src_;
  GuestRamPort& dst_;
  uint32_t page_;
  uint64_t page_count_;
  std::deque<Worker> workers_;  // stable addresses: the threads hold them
  std::vector<ChannelStats> stats_;
  std::vector<uint64_t> queued_;  // the packet being filled (multifd_queue_page)
  size_t next_ = 0;               // round robin start (multifd_send's next_channel)
  bool since_sync_ = false;       // packets sent since the last sync
  bool failed_ = false, timed_out_ = false;
  uint64_t unmoved_ = 0;  // bytes counted at hand-off that a deadline kept from arriving
  uint64_t syncs_ = 0;
  sc_core::sc_event idle_;
};

}  // namespace mdevsim::sim::vmm
