#include "vmm/ram_saver.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <utility>

#include "mdevsim/sim/run_outputs.h"
#include "vmm/abi_calls.h"

namespace mdevsim::sim::vmm {

namespace {
namespace abi = mdevsim::vmm;  // the typed calls (vmm/abi_calls.h)

constexpr double kSlice = net::Link::kSlice;

// The wire rate at which `wire` bytes carrying `scanned` bytes of pages
// leave when the zero-page scan sets the pace (QEMU's buffer_is_zero reads
// every page it sends): the transfer takes at least scanned / scan_bandwidth.
double scan_cap(double scan_bandwidth, uint64_t wire, uint64_t scanned) {
  if (scanned == 0) return std::numeric_limits<double>::infinity();
  return scan_bandwidth * static_cast<double>(wire) / static_cast<double>(scanned);
}
}  // namespace

uint64_t slice_checksum(const std::vector<std::pair<uint64_t, uint64_t>>& slice) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the pairs
  for (const auto& [p, t] : slice)
    for (uint64_t v : {p, t}) h = (h ^ v) * 0x100000001b3ull;
  return h;
}

void PageSet::set(uint64_t p) {
  uint64_t& w = words_[p / 64];
  const uint64_t b = uint64_t{1} << (p % 64);
  count_ += (w & b) == 0;
  w |= b;
}
bool PageSet::take(uint64_t p) {
  if (!test(p)) return false;
  words_[p / 64] &= ~(uint64_t{1} << (p % 64));
  --count_;
  return true;
}
uint64_t PageSet::next_from(uint64_t from) const {
  if (from >= pages_) return kNone;
  uint64_t w = from / 64, bits = words_[w] & (~uint64_t{0} << (from % 64));
  while (bits == 0) {
    if (++w == words_.size()) return kNone;
    bits = words_[w];
  }
  return w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
}
void PageSet::clear() {
  std::fill(words_.begin(), words_.end(), 0);
  count_ = 0;
}

RamSaver::RamSaver(MigrationContext& ctx, GuestRamPort& src, GuestRamPort& dst,
                   vfio::Frontend* src_frontend, uint32_t page_size, uint64_t ram_bytes, bool v1)
    : ctx_(ctx),
      src_(src),
      dst_(dst),
      fe_(src_frontend),
      page_(page_size),
      ram_bytes_(ram_bytes),
      v1_(v1),
      dma_pending_(src.page_count()) {
  if (const uint32_t n = ctx.scenario.migration.multifd_channels; n > 0)
    multifd_ = std::make_unique<Multifd>(ctx, src, dst, page_size, n);
}

bool RamSaver::setup() {
  // The first pass sends every page. Pages never written go as zero-page
  // headers, counted in bulk; the rest are marked dirty.
  src_.mark_touched_dirty();
  initial_zero_pages_ = src_.page_count() - src_.touched_pages();
  src_.start_dirty_log();
  start_dma_tracking();
  return !multifd_ || multifd_->setup();
}

void RamSaver::start_dma_tracking() {
  if (!ctx_.scenario.vm.dma_dirty_tracking || !fe_) return;
  if (!v1_) {
    if (abi::dma_logging_start(*fe_, page_, {{0, ram_bytes_}}) == 0) {
      dma_logging_ = true;
      return;
    }
  }
  type1_ = abi::type1_dirty_start(*fe_) == 0;
}

// Pulls the pages device DMA wrote (or pinned) into dma_pending_.
void RamSaver::sync_dma_dirty() {
  if (!dma_logging_ && !type1_) return;
  const uint64_t pages = src_.page_count();
  // One buffer for every report: the user zeroes it, the kernel only sets bits.
  auto& bitmap = report_bitmap_;
  bitmap.assign((pages * (page_ / 4096) + 63) / 64 + 1, 0);
  if (dma_logging_) {
    if (abi::dma_logging_report(*fe_, 0, ram_bytes_, page_, bitmap.data()) < 0) return;
    mark_from_bitmap(bitmap, 1, pages);
    return;
  }
  if (abi::type1_dirty_get_bitmap(*fe_, 0, ram_bytes_, 4096, bitmap.data(), bitmap.size() * 8) < 0)
    return;
  mark_from_bitmap(bitmap, page_ / 4096, pages);
}

// Bit k of a VFIO bitmap is page k / per (word by word: most words are 0).
void RamSaver::mark_from_bitmap(const std::vector<uint64_t>& bitmap, uint64_t per, uint64_t pages) {
  for (uint64_t w = 0; w < bitmap.size(); ++w) {
    for (uint64_t bits = bitmap[w]; bits != 0; bits &= bits - 1) {
      const uint64_t page = (w * 64 + static_cast<uint64_t>(std::countr_zero(bits))) / per;
      if (page < pages) dma_pending_.set(page);
    }
  }
}

// The RAM pages to send now: dirty-logged vCPU writes plus DMA-dirty pages.
// `into` must be empty or all clear.
void RamSaver::collect_dirty(PageBits& into) {
  sync_dma_dirty();
  dma_pending_.for_each([&](uint64_t p) { src_.mark_dirty(p); });
  dma_pending_.clear();
  src_.collect_dirty(into);
}

// The same as a list, ascending.
std::vector<uint64_t> RamSaver::collect_dirty() {
  collect_dirty(scratch_);
  std::vector<uint64_t> out;
  out.reserve(scratch_.count);
  for (uint64_t w = 0; w < scratch_.words.size(); ++w) {
    for (uint64_t bits = scratch_.words[w]; bits != 0; bits &= bits - 1)
      out.push_back(w * 64 + static_cast<uint64_t>(std::countr_zero(bits)));
    scratch_.words[w] = 0;
  }
  scratch_.count = 0;
  return out;
}

void RamSaver::pending_estimate(IterationResult& it) {
  if (multifd_) {  // the channels take lists of pages (vmm/multifd.h)
    pages_ = collect_dirty();
    it.ram_dirty_pages = pages_.size();
    return;
  }
  collect_dirty(pass_);
  it.ram_dirty_pages = pass_.count;
}

bool RamSaver::iterate(IterationResult& it) {
  auto& link = ctx_.link;
  if (multifd_) {
    const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kRamPages);
    return multifd_->pass(std::exchange(initial_zero_pages_, 0), pages_, true, it.ram_bytes);
  }
  if (initial_zero_pages_ > 0) {
    const uint64_t initial_zero_pages = initial_zero_pages_;
    const uint64_t zero_bytes = initial_zero_pages * kZeroPageBytes;
    initial_zero_pages_ = 0;
    const auto zero_span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kRamPages);
    // Cut off by the deadline: the destination starts zeroed, so the zero
    // pages not yet announced need nothing more.
    const double cap = scan_cap(scan_bandwidth(), zero_bytes, initial_zero_pages * page_);
    if (!link.transfer(zero_bytes, true, cap) && !link.timed_out())
      return ctx_.fail(link.failure());
    it.ram_bytes += link.moved();
  }
  const bool sent = !link.timed_out() && send(pass_, true, it.ram_bytes);
  std::fill(pass_.words.begin(), pass_.words.end(), 0);  // reused by the next collect
  pass_.count = 0;
  return sent;
}

uint64_t RamSaver::pending_exact() {
  sync_dma_dirty();
  last_dirty_ = src_.dirty_count() + dma_pending_.count();
  return last_dirty_ * (page_ + kPageHeaderBytes);
}

bool RamSaver::complete(StopCopyResult& sc) {
  if (multifd_) return multifd_->complete([this] { return collect_dirty(); }, sc.ram_bytes);
  return send(collect_dirty(), false, sc.ram_bytes);
}

namespace {
// send()'s walk over a pass: a list of pages, or one bit per page.
struct ListWalk {
  const std::vector<uint64_t>* v;
  size_t i = 0;
  bool done() const { return i >= v->size(); }
  uint64_t page() const { return (*v)[i]; }
  uint64_t rest_of_word() const { return uint64_t{1} << (page() % 64); }
  void next() { ++i; }
  void next_word() { next(); }  // past rest_of_word()
};
struct BitsWalk {
  explicit BitsWalk(const std::vector<uint64_t>& words) : w(&words) {
    bits = w->empty() ? 0 : (*w)[0];
    skip();
  }
  const std::vector<uint64_t>* w;
  size_t wi = 0;
  uint64_t bits = 0;  // of word wi, not walked yet
  void skip() {
    while (bits == 0 && ++wi < w->size()) bits = (*w)[wi];
  }
  bool done() const { return wi >= w->size(); }
  uint64_t page() const { return wi * 64 + static_cast<uint64_t>(std::countr_zero(bits)); }
  uint64_t rest_of_word() const { return bits; }  // the pages of page()'s word still to walk
  void next() {
    bits &= bits - 1;
    skip();
  }
  void next_word() {  // past rest_of_word()
    bits = 0;
    skip();
  }
};
}  // namespace

bool RamSaver::send(const std::vector<uint64_t>& pages, bool limited, uint64_t& bytes) {
  if (multifd_) return multifd_->send(pages, limited, bytes);
  return send_walk(ListWalk{&pages}, limited, bytes);
}
bool RamSaver::send(const PageBits& pages, bool limited, uint64_t& bytes) {
  return send_walk(BitsWalk(pages.words), limited, bytes);
}

// Sends RAM pages; the content captured when a slice leaves arrives after
// it. Zero pages go as a header only and need no copy: the destination
// starts zeroed and a written page never returns to zero.
template <typename Walk>
bool RamSaver::send_walk(Walk pages, bool limited, uint64_t& bytes) {
  auto& link = ctx_.link;
  const auto span = RunRecorder::link_scope(ctx_.recorder, RunRecorder::kRamPages);
  // A slice is 10 ms of the link or of the scan, whichever is less.
  const double scan_budget = scan_bandwidth() * kSlice;
  const uint64_t page_cost = page_ + kPageHeaderBytes;
  // Pages still holding their resident content go as bits, a word at a
  // time (the same bytes on the wire). Not while a RAM corruption is ahead:
  // the flipped page and the checksum are those of the per-page slice.
  const bool by_bits =
      src_.shares_resident_content(dst_) && !ctx_.corruption_ahead(CorruptTarget::kRam);
  while (!pages.done()) {
    const double budget = link.bandwidth(now(), limited) * kSlice;
    const Walk slice_begin = pages;
    uint64_t in_slice = 0;
    slice_.clear();
    slice_resident_.clear();
    uint64_t n = 0;
    // The source's tokens a word (64 pages) per port call, fetched in this
    // slice (content is read when its slice leaves).
    uint64_t word = ~uint64_t{0}, have = 0, word_tokens[64];
    auto fits = [&](uint64_t bytes_before_page, uint64_t pages_before) {
      return (static_cast<double>(bytes_before_page) < budget &&
              static_cast<double>(pages_before) * page_ < scan_budget) ||
             (slice_.empty() && bytes_before_page == 0);
    };
    while (!pages.done() && fits(n, in_slice)) {
      const uint64_t page = pages.page();
      if (by_bits && page / 64 != word) {
        // A whole word when the page-by-page walk would take all of it.
        const uint64_t w = page / 64, rest = pages.rest_of_word();
        if (const uint64_t resident = src_.resident_bits(w, rest); resident != 0) {
          const uint64_t others = rest & ~resident;
          if (others != 0) src_.tokens(w, others, word_tokens);
          auto cost = [&](unsigned i) {
            return (resident >> i) & 1 || word_tokens[i] != 0 ? page_cost : kZeroPageBytes;
          };
          uint64_t total = static_cast<uint64_t>(std::popcount(resident)) * page_cost;
          for (uint64_t b = others; b != 0; b &= b - 1)
            total += cost(static_cast<unsigned>(std::countr_zero(b)));
          const uint64_t k = static_cast<uint64_t>(std::popcount(rest));
          const auto last = static_cast<unsigned>(63 - std::countl_zero(rest));
          if (fits(n + total - cost(last), in_slice + k - 1)) {
            for (uint64_t b = others; b != 0; b &= b - 1) {
              const auto i = static_cast<unsigned>(std::countr_zero(b));
              if (word_tokens[i] != 0) slice_.emplace_back(w * 64 + i, word_tokens[i]);
            }
            slice_resident_.emplace_back(w, resident);
            n += total;
            in_slice += k;
            pages.next_word();
            continue;
          }
          word = w;  // page by page: this slice ends in this word
          have = 0;  // its tokens, all of them, below
        }
      }
      if (page / 64 != word || !((have >> (page % 64)) & 1)) {
        word = page / 64;
        have = pages.rest_of_word();
        src_.tokens(word, have, word_tokens);
      }
      const uint64_t tok = word_tokens[page % 64];
      if (tok == 0) {
        n += kZeroPageBytes;
      } else {
        n += page_cost;
        slice_.emplace_back(page, tok);
      }
      pages.next();
      ++in_slice;
    }
    n += kSliceChecksumBytes;
    const uint64_t scanned = in_slice * uint64_t{page_};
    if (!link.transfer(n, limited, scan_cap(scan_bandwidth(), n, scanned))) {
      if (!link.timed_out()) return ctx_.fail(link.failure());
      // Cut off by the deadline: what did not arrive is still to send.
      for (Walk k = slice_begin; !k.done(); k.next()) src_.mark_dirty(k.page());
      return false;
    }
    if (!slice_.empty() && !slice_arrives_intact()) return false;
    dst_.set_tokens(slice_);
    for (const auto& [w, mask] : slice_resident_) dst_.set_resident_bits(w, mask);
    bytes += n;
  }
  return true;
}

// The destination checks the slice against the checksum sent with it
// before placing any page of it; only a slice a corrupt fault hit fails it.
bool RamSaver::slice_arrives_intact() {
  const auto f = ctx_.take_corruption(CorruptTarget::kRam);
  if (!f) return true;
  const uint64_t sent_sum = slice_checksum(slice_);
  auto& [page, token] = slice_[slice_.size() / 2];
  token ^= uint64_t{1} << 17;  // one bit flipped on the wire
  ctx_.result.faults[*f].effect = "flipped a bit of guest RAM page " + std::to_string(page) +
                                  " on the wire; the destination's slice checksum caught it";
  if (slice_checksum(slice_) == sent_sum) return true;
  ctx_.fail_outcome = "failed";
  ctx_.fail("guest RAM corrupted in transit: a slice of " + std::to_string(slice_.size()) +
            " pages (" + std::to_string(slice_.front().first) + ".." +
            std::to_string(slice_.back().first) +
            ") did not match its checksum; the destination applied none of it");
  return false;
}

bool RamSaver::switch_to_postcopy(StopCopyResult& sc) {
  auto& link = ctx_.link;
  auto missing = collect_dirty();
  initial_zero_pages_ = 0;  // zero pages need no fetch
  std::vector<uint64_t> nonzero;
  for (uint64_t p : missing)
    if (src_.token(p) != 0) nonzero.push_back(p);
  pages_.swap(nonzero);
  unsent_ = PageSet(src_.page_count());
  for (uint64_t p : pages_) unsent_.set(p);
  const uint64_t discard_bytes = (src_.page_count() + 7) / 8;  // bitmap of missing pages
  if (!link.transfer(discard_bytes, false)) return ctx_.fail(link.failure());
  sc.ram_bytes += discard_bytes;
  return true;
}

std::vector<uint64_t> RamSaver::fault_pages(const std::vector<uint64_t>& faults,
                                            uint64_t prefetch) const {
  std::vector<uint64_t> pages;
  for (uint64_t p : faults)
    for (uint64_t k = p; k <= p + prefetch && k < src_.page_count(); ++k)
      if (dst_.missing(k)) pages.push_back(k);
  return pages;
}

void RamSaver::queue_requested(const std::vector<uint64_t>& pages) {
  for (uint64_t p : pages)
    if (unsent_.test(p)) requested_.push_back(p);
}

std::vector<uint64_t> RamSaver::take_requested() {
  std::vector<uint64_t> pages;
  for (uint64_t p : std::exchange(requested_, {}))
    if (unsent_.take(p))
      pages.push_back(p);  // a page asked for twice, or pushed meanwhile, goes once
  return pages;
}

// The source's scan skips what it has sent and what the destination no
// longer lacks (device DMA wrote the whole page there).
std::vector<uint64_t> RamSaver::next_background(uint64_t max) {
  std::vector<uint64_t> pages;
  while (pages.size() < max) {
    const uint64_t p = unsent_.next_from(ram_cursor_);
    if (p == PageSet::kNone) break;
    ram_cursor_ = p + 1;
    unsent_.take(p);
    if (dst_.missing(p)) pages.push_back(p);
  }
  return pages;
}

bool RamSaver::push(const std::vector<uint64_t>& pages, net::Link::Channel& channel,
                    uint64_t& bytes, Parcel& parcel) {
  parcel.clear();
  const uint64_t n = pages.size() * (page_ + kPageHeaderBytes);
  if (n == 0) return true;
  for (uint64_t p : pages) parcel.emplace_back(p, src_.token(p));  // the source is stopped
  if (!channel.transfer(n, false, scan_cap(scan_bandwidth(), n, pages.size() * uint64_t{page_})))
    return false;
  bytes += n;
  return true;
}

void RamSaver::place(const Parcel& parcel) {
  for (const auto& [p, t] : parcel)
    if (dst_.place(p, t)) ++fetched_;
}

}  // namespace mdevsim::sim::vmm
