// Guest RAM as a save handler (QEMU: migration/ram.c): the dirty log of vCPU
// writes plus the pages device DMA wrote, learnt through VFIO (device DMA
// logging, else type1 dirty pages); zero pages sent as headers only; pages
// sent in link slices, each with a checksum the destination checks before
// placing any page of it. Post-copy: the missing-page list, fetched and
// pushed pages.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "mdevsim/vfio/frontend.h"
#include "vmm/context.h"
#include "vmm/multifd.h"
#include "vmm/ports.h"
#include "vmm/save_handler.h"

namespace mdevsim::sim::vmm {

inline constexpr uint64_t kZeroPageBytes = 8;    // a zero page goes as a header only
inline constexpr uint64_t kPageHeaderBytes = 8;  // per-page header on the wire
// Wire integrity of RAM: QEMU sends no checksum for RAM pages; mdevsim's
// simulated wire carries one per slice (8 bytes over its (page, content)
// pairs) so that a `corrupt` fault on RAM is caught before it is applied.
inline constexpr uint64_t kSliceChecksumBytes = 8;
uint64_t slice_checksum(const std::vector<std::pair<uint64_t, uint64_t>>& slice);

// A set of page numbers as one bit each, with its count (DMA-dirty pages
// not yet sent; post-copy's pages not sent yet).
class PageSet {
 public:
  static constexpr uint64_t kNone = ~uint64_t{0};
  explicit PageSet(uint64_t pages) : pages_(pages), words_((pages + 63) / 64, 0) {}
  void set(uint64_t p);
  bool test(uint64_t p) const { return p < pages_ && (words_[p / 64] >> (p % 64)) & 1; }
  // Removes `p`; true when it was in the set.
  bool take(uint64_t p);
  // The smallest page >= `from` in the set, or kNone.
  uint64_t next_from(uint64_t from) const;
  uint64_t count() const { return count_; }
  template <typename F>
  void for_each(F f) const {
    for (uint64_t w = 0; w < words_.size(); ++w)
      for (uint64_t bits = words_[w]; bits != 0; bits &= bits - 1)
        f(w * 64 + static_cast<uint64_t>(std::countr_zero(bits)));
  }
  void clear();

 private:
  uint64_t pages_;
  std::vector<uint64_t> words_;
  uint64_t count_ = 0;
};

class RamSaver : public SaveHandler {
 public:
  RamSaver(MigrationContext& ctx, GuestRamPort& src, GuestRamPort& dst,
           vfio::Frontend* src_frontend, uint32_t page_size, uint64_t ram_bytes, bool v1);
  const char* name() const override { return "ram"; }
  bool setup() override;
  void pending_estimate(IterationResult& it) override;
  bool iterate(IterationResult& it) override;
  uint64_t pending_exact() override;
  bool complete(StopCopyResult& sc) override;

  uint64_t dirty_pages_at_last_sync() const { return last_dirty_; }

  // ---- post-copy
  // At the switch: the pages dirty since they were sent stay at the source
  // (zero pages need no fetch); announces them (a bitmap) to the destination.
  bool switch_to_postcopy(StopCopyResult& sc);
  // Once the switch package has arrived: the destination learns which
  // pages it lacks (userfaultfd registration).
  void mark_missing_at_destination() { dst_.set_missing(pages_); }
  // The destination's side: pages to request for faults at `faults`, with
  // `prefetch` following pages (those it still lacks).
  std::vector<uint64_t> fault_pages(const std::vector<uint64_t>& faults, uint64_t prefetch) const;
  // The source's side. A request has arrived: its pages (those not sent
  // yet) go out before the next background pages.
  void queue_requested(const std::vector<uint64_t>& pages);
  bool has_requested() const { return !requested_.empty(); }
  // The requested pages not sent yet, now counted as sent.
  std::vector<uint64_t> take_requested();
  // The next unsent pages in page order, up to `max`, now counted as sent
  // (background push).
  std::vector<uint64_t> next_background(uint64_t max);
  uint64_t unsent() const { return unsent_.count(); }  // at the source
  // Sends pages over `channel`; `parcel` gets their content as they leave
  // (placed at the destination on arrival: place()).
  using Parcel = std::vector<std::pair<uint64_t, uint64_t>>;  // (page, content)
  bool push(const std::vector<uint64_t>& pages, net::Link::Channel& channel, uint64_t& bytes,
            Parcel& parcel);
  // The parcel arrives: each page still missing at the destination is placed.
  void place(const Parcel& parcel);
  uint64_t wire_page_bytes() const { return page_ + kPageHeaderBytes; }
  uint64_t fetched_pages() const { return fetched_; }

 private:
  friend class MigrationThread;  // QEMU's loop sends the pass in budgets (vmm/migration_thread.h)
  void start_dma_tracking();
  void sync_dma_dirty();
  void mark_from_bitmap(const std::vector<uint64_t>& bitmap, uint64_t per, uint64_t pages);
  void collect_dirty(PageBits& into);
  std::vector<uint64_t> collect_dirty();
  bool send(const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes);
  bool send(const PageBits& pages, bool limited, uint64_t& bytes);
  template <typename Walk>
  bool send_walk(Walk pages, bool limited, uint64_t& bytes);
  bool slice_arrives_intact();
  double scan_bandwidth() const { return ctx_.scenario.vm.scan_bandwidth; }

  MigrationContext& ctx_;
  GuestRamPort& src_;
  GuestRamPort& dst_;
  vfio::Frontend* fe_;  // device DMA dirty pages (null: none)
  uint32_t page_;
  uint64_t ram_bytes_;
  bool v1_;
  PageSet dma_pending_;
  bool dma_logging_ = false, type1_ = false;
  uint64_t initial_zero_pages_ = 0;  // first pass: never-written pages, sent as headers
  std::vector<uint64_t> pages_;      // this iteration's (passes loop with multifd, post-copy)
  PageBits pass_;                    // this pass's (passes loop): bits, not page numbers
  PageBits scratch_;                 // collect_dirty()'s and the qemu loop's syncs', all clear
  uint64_t last_dirty_ = 0;
  std::vector<uint64_t> report_bitmap_;                        // dirty-page report buffer, reused
  std::vector<std::pair<uint64_t, uint64_t>> slice_;           // (page, content), reused
  std::vector<std::pair<uint64_t, uint64_t>> slice_resident_;  // (bit word, resident pages)
  uint64_t ram_cursor_ = 0;                                    // background push
  uint64_t fetched_ = 0;
  // Post-copy at the source: pages not sent yet and the requested pages
  // waiting to go out.
  PageSet unsent_{0};
  std::vector<uint64_t> requested_;
  std::unique_ptr<Multifd> multifd_;  // migration.multifd_channels > 0: pages go over it
};

}  // namespace mdevsim::sim::vmm
