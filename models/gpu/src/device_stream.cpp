// The device's migration stream: what SaveStream produces and ResumeStream
// consumes. Serialisation of each block lives beside its state; this file
// only frames it.
//
// Stream = records. Each record: u32 type, u32 zero, u64 payload length, then
// the payload:
//   HEADER  magic "MDEVGPU\0", u32 version, u32 flags, u64 vram bytes,
//           u32 page size, u32 contexts, u32 ring entries, u32 zero
//   PAGE    u64 page index, page_size bytes of content (PageStore::fill_payload)
//   STATE   the internal-state blob (GpuDevice::serialize_state)
//   MISSING post-copy only: u64 count, then count u64 page indices the
//           destination must fetch on demand (before END, so it is checksummed)
//   END     u64 stream bytes before this record, u64 checksum
// After a post-copy END, only PAGE records follow: pages served on request.
// The checksum folds every record header, every non-page payload byte, and
// (page, token) for each page record — the page payload itself is verified
// byte for byte against its token, so no flipped bit goes unnoticed, while
// the in-process chunk path need not materialise page bytes.
#include <algorithm>
#include <cstring>
#include <deque>
#include <set>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

namespace {

constexpr uint32_t kRecHeader = 1, kRecPage = 2, kRecState = 3, kRecEnd = 4, kRecMissing = 5;
constexpr uint64_t kRecordHeaderBytes = 16;
constexpr uint64_t kHeaderPayload = 40;
constexpr uint64_t kEndPayload = 16;
constexpr uint32_t kStreamVersion = 1;
constexpr char kMagic[8] = {'M', 'D', 'E', 'V', 'G', 'P', 'U', '\0'};
constexpr uint32_t kChunkPage = 1, kChunkBytes = 2;

class Checksum {
 public:
  void word(uint64_t w) { h_ = mix64(h_ ^ w) + 0x632be59bd9b4e019ULL; }
  void bytes(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      acc_ |= uint64_t{p[i]} << (8 * fill_);
      if (++fill_ == 8) flush();
    }
  }
  void flush() {
    if (fill_ != 0 || acc_ != 0) word(acc_ ^ (uint64_t{fill_} << 56));
    acc_ = 0;
    fill_ = 0;
  }
  uint64_t value() {
    flush();
    return h_;
  }

 private:
  uint64_t h_ = 0x6d64657673696d31ULL, acc_ = 0;
  unsigned fill_ = 0;
};

void put_record_header(uint8_t* out, uint32_t type, uint64_t len) {
  const uint32_t zero = 0;
  std::memcpy(out, &type, 4);
  std::memcpy(out + 4, &zero, 4);
  std::memcpy(out + 8, &len, 8);
}

std::vector<uint8_t> header_payload(const DeviceConfig& c) {
  StateWriter w;
  for (char ch : kMagic) w.u8(static_cast<uint8_t>(ch));
  w.u32(kStreamVersion);
  w.u32(0);
  w.u64(c.vram_bytes);
  w.u32(c.page_size);
  w.u32(c.contexts);
  w.u32(kRingEntries);
  w.u32(0);
  return w.take();
}

// ---------------------------------------------------------------- saving

class GpuSaveStream final : public SaveStream {
 public:
  // Passes work like QEMU's RAM passes: a pass sends the pages that were
  // dirty when it began (the first pass: every touched page); pages written
  // during a pass stay dirty for the next one, even if the pass already sent
  // them, as with dirty-bit hardware that is sampled once per pass.
  explicit GpuSaveStream(GpuDevice& dev) : dev_(dev), store_(dev.vram.store()) {
    page_record_ = kRecordHeaderBytes + 8 + store_.page_size();
    pass_.resize(store_.page_count());
    store_.for_each_touched([&](uint64_t p, uint64_t) { pass_.set(p); });
    store_.dirty().clear_all();
    store_.start_tracking();
  }
  ~GpuSaveStream() override { store_.stop_tracking(); }

  uint64_t initial_bytes() const override {
    if (!initial_pass_) return 0;
    return pass_.count() * page_record_ + (header_sent_ ? 0 : kRecordHeaderBytes + kHeaderPayload) +
           pending_rest();
  }
  uint64_t dirty_bytes() const override {
    return (store_.dirty().count() + (initial_pass_ ? 0 : pass_.count())) * page_record_ +
           (initial_pass_ ? 0 : pending_rest());
  }
  uint64_t stop_copy_bytes() const override {
    const uint64_t pages = union_pages();
    return pages * page_record_ + pending_rest() +
           (header_sent_ ? 0 : kRecordHeaderBytes + kHeaderPayload) +
           (state_sent_ ? 0 : state_record_bytes()) +
           (end_sent_ ? 0 : kRecordHeaderBytes + kEndPayload);
  }

  void finalize() override { finalized_ = true; }
  bool finalized() const override { return finalized_; }
  bool at_end() const override {
    return end_sent_ && cur_.off == cur_.size &&
           (!postcopy_ || (unsent_.count() == 0 && queue_.empty()));
  }

  bool finalize_postcopy() override {
    if (postcopy_) return true;
    finalized_ = postcopy_ = true;
    // Whatever is still to send (this pass, or dirty since) stays at the
    // source; the destination learns the list from the MISSING record.
    unsent_.resize(store_.page_count());
    const auto& d = store_.dirty().words();
    const auto& p = pass_.words();
    for (size_t w = 0; w < d.size(); ++w)
      for (uint64_t bits = d[w] | p[w]; bits; bits &= bits - 1) {
        const uint64_t page = w * 64 + static_cast<uint64_t>(std::countr_zero(bits));
        unsent_.set(page);
        missing_.push_back(page);
      }
    pass_.clear_all();
    store_.dirty().clear_all();
    return true;
  }
  bool postcopy() const override { return postcopy_; }
  uint64_t queue_pages(uint64_t first, uint64_t count) override {
    uint64_t n = 0;
    for (uint64_t p = first; p < first + count && p < unsent_.size(); ++p)
      if (unsent_.test(p) && !queued_.count(p)) {
        queue_.push_back(p);
        queued_.insert(p);
        ++n;
      }
    return n;
  }
  uint64_t queue_background(uint64_t max_pages, bool hot_first) override {
    if (!bg_ready_) {
      bg_order_ = missing_;
      if (hot_first && !heat_.empty())
        std::stable_sort(bg_order_.begin(), bg_order_.end(),
                         [&](uint64_t a, uint64_t b) { return heat_[a] > heat_[b]; });
      bg_ready_ = true;
    }
    uint64_t n = 0;
    while (n < max_pages && bg_pos_ < bg_order_.size()) n += queue_pages(bg_order_[bg_pos_++], 1);
    return n;
  }
  uint64_t postcopy_unsent() const override { return unsent_.count(); }
  uint64_t bytes_produced() const override { return produced_; }
  void corrupt_at(uint64_t offset) override { corrupt_at_ = offset; }

  size_t read(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      if (cur_.off == cur_.size && !next_record()) break;
      if (cur_.type == kRecPage && cur_.off == 0 && !cur_.materialised &&
          out.size() - done >= cur_.size) {
        // A whole page record fits: build it in the caller's buffer directly.
        write_page_record(out.data() + done);
        apply_corruption(out.data() + done, cur_.size);
        cur_.off = cur_.size;
        produced_ += cur_.size;
        done += cur_.size;
        continue;
      }
      materialise();
      const size_t n = std::min<size_t>(out.size() - done, cur_.size - cur_.off);
      std::memcpy(out.data() + done, cur_.bytes.data() + cur_.off, n);
      apply_corruption(out.data() + done, n);
      cur_.off += n;
      produced_ += n;
      done += n;
    }
    return done;
  }

  uint64_t read_chunks(uint64_t max_bytes, std::vector<StreamChunk>& out) override {
    uint64_t done = 0;
    while (done < max_bytes) {
      if (cur_.off == cur_.size && !next_record()) break;
      const bool whole_page =
          cur_.type == kRecPage && cur_.off == 0 && !corrupt_at_ && cur_.size <= max_bytes - done;
      if (whole_page) {
        out.push_back(StreamChunk{cur_.size, kChunkPage, cur_.page, cur_.token, {}});
        cur_.off = cur_.size;
        produced_ += cur_.size;
        done += cur_.size;
        continue;
      }
      materialise();
      const size_t n = std::min<uint64_t>(max_bytes - done, cur_.size - cur_.off);
      StreamChunk c{n, kChunkBytes, 0, 0, {}};
      c.bytes.assign(cur_.bytes.begin() + static_cast<long>(cur_.off),
                     cur_.bytes.begin() + static_cast<long>(cur_.off + n));
      apply_corruption(c.bytes.data(), n);
      out.push_back(std::move(c));
      cur_.off += n;
      produced_ += n;
      done += n;
    }
    return done;
  }

 private:
  struct Record {
    uint32_t type = 0;
    uint64_t size = 0, off = 0;
    uint64_t page = 0, token = 0;
    bool materialised = false;
    std::vector<uint8_t> bytes;
  };

  uint64_t pending_rest() const { return cur_.size - cur_.off; }
  uint64_t state_record_bytes() const { return kRecordHeaderBytes + dev_.serialize_state().size(); }

  // Distinct pages still to send: in the current pass or dirty since.
  uint64_t union_pages() const {
    const auto& d = store_.dirty().words();
    const auto& p = pass_.words();
    uint64_t n = 0;
    for (size_t w = 0; w < d.size(); ++w) n += static_cast<uint64_t>(std::popcount(d[w] | p[w]));
    return n;
  }

  // Next set bit at or after `from` (wrapping once), or none.
  static bool next_set(const DirtyBitmap& b, uint64_t from, uint64_t& found) {
    if (b.count() == 0) return false;
    const auto& words = b.words();
    const size_t nw = words.size();
    size_t wi = from / 64;
    uint64_t w = wi < nw ? words[wi] & (~uint64_t{0} << (from % 64)) : 0;
    for (size_t step = 0; step <= nw; ++step) {
      if (w != 0) {
        found = wi * 64 + static_cast<uint64_t>(std::countr_zero(w));
        return true;
      }
      wi = (wi + 1) % nw;
      w = words[wi];
    }
    return false;
  }

  void start(uint32_t type, uint64_t payload) {
    cur_ = Record{};
    cur_.type = type;
    cur_.size = kRecordHeaderBytes + payload;
  }

  bool next_record() {
    if (!header_sent_) {
      start(kRecHeader, kHeaderPayload);
      cur_.bytes.resize(cur_.size);
      put_record_header(cur_.bytes.data(), kRecHeader, kHeaderPayload);
      const auto hp = header_payload(dev_.config());
      std::memcpy(cur_.bytes.data() + kRecordHeaderBytes, hp.data(), hp.size());
      cur_.materialised = true;
      sum_.bytes(cur_.bytes.data(), cur_.bytes.size());
      header_sent_ = true;
      return true;
    }
    uint64_t page;
    if (!next_set(pass_, cursor_, page) && store_.dirty().count() > 0) {
      // The pass is done: the pages dirty now form the next one.
      std::swap(pass_, store_.dirty());
      store_.dirty().clear_all();
      initial_pass_ = false;
      // Heat: in how many passes a page was found re-dirtied (hot-first push).
      if (heat_.empty()) heat_.assign(store_.page_count(), 0);
      pass_.for_each_set([&](uint64_t p) {
        if (heat_[p] < 255) ++heat_[p];
      });
      cursor_ = 0;
    }
    if (next_set(pass_, cursor_, page)) {
      cursor_ = page + 1;
      return page_record(page);
    }
    if (end_sent_ && postcopy_) {
      while (!queue_.empty()) {
        const uint64_t p = queue_.front();
        queue_.pop_front();
        queued_.erase(p);
        if (unsent_.test(p)) return served_page_record(p);
      }
      return false;
    }
    if (!finalized_ || end_sent_) return false;
    if (postcopy_ && state_sent_ && !missing_sent_) {
      StateWriter w;
      w.u64(missing_.size());
      for (uint64_t p : missing_) w.u64(p);
      const auto blob = w.take();
      start(kRecMissing, blob.size());
      cur_.bytes.resize(cur_.size);
      put_record_header(cur_.bytes.data(), kRecMissing, blob.size());
      std::memcpy(cur_.bytes.data() + kRecordHeaderBytes, blob.data(), blob.size());
      cur_.materialised = true;
      sum_.bytes(cur_.bytes.data(), cur_.bytes.size());
      missing_sent_ = true;
      return true;
    }
    if (!state_sent_) {
      const auto blob = dev_.serialize_state();
      start(kRecState, blob.size());
      cur_.bytes.resize(cur_.size);
      put_record_header(cur_.bytes.data(), kRecState, blob.size());
      std::memcpy(cur_.bytes.data() + kRecordHeaderBytes, blob.data(), blob.size());
      cur_.materialised = true;
      sum_.bytes(cur_.bytes.data(), cur_.bytes.size());
      state_sent_ = true;
      return true;
    }
    start(kRecEnd, kEndPayload);
    cur_.bytes.resize(cur_.size);
    put_record_header(cur_.bytes.data(), kRecEnd, kEndPayload);
    const uint64_t before = produced_;
    const uint64_t sum = sum_.value();
    std::memcpy(cur_.bytes.data() + 16, &before, 8);
    std::memcpy(cur_.bytes.data() + 24, &sum, 8);
    cur_.materialised = true;
    end_sent_ = true;
    return true;
  }

  bool page_record(uint64_t page) {
    start(kRecPage, 8 + store_.page_size());
    cur_.page = page;
    cur_.token = store_.token(page);
    pass_.clear(page);
    // Once the device is stopped the content sent is final: no second copy.
    if (finalized_) store_.dirty().clear(page);
    uint8_t hdr[16];
    put_record_header(hdr, kRecPage, 8 + store_.page_size());
    sum_.bytes(hdr, 16);
    sum_.flush();
    sum_.word(page);
    sum_.word(cur_.token);
    return true;
  }

  // A post-copy page: verified on arrival by its payload, outside the checksum.
  bool served_page_record(uint64_t page) {
    start(kRecPage, 8 + store_.page_size());
    cur_.page = page;
    cur_.token = store_.token(page);
    unsent_.clear(page);
    return true;
  }

  void write_page_record(uint8_t* out) const {
    put_record_header(out, kRecPage, cur_.size - kRecordHeaderBytes);
    std::memcpy(out + 16, &cur_.page, 8);
    PageStore::fill_payload(cur_.page, cur_.token,
                            std::span<uint8_t>(out + 24, store_.page_size()));
  }

  void materialise() {
    if (cur_.materialised) return;
    cur_.bytes.resize(cur_.size);
    write_page_record(cur_.bytes.data());
    cur_.materialised = true;
  }

  void apply_corruption(uint8_t* data, size_t n) {
    if (corrupt_at_ && *corrupt_at_ >= produced_ && *corrupt_at_ < produced_ + n)
      data[*corrupt_at_ - produced_] ^= 0x01;
  }

  GpuDevice& dev_;
  PageStore& store_;
  uint64_t page_record_;
  DirtyBitmap pass_;  // pages of the current pass not yet sent
  bool initial_pass_ = true;
  uint64_t cursor_ = 0;
  bool header_sent_ = false, finalized_ = false, state_sent_ = false, end_sent_ = false;
  Record cur_;
  uint64_t produced_ = 0;
  Checksum sum_;
  std::optional<uint64_t> corrupt_at_;
  // post-copy
  bool postcopy_ = false, missing_sent_ = false, bg_ready_ = false;
  DirtyBitmap unsent_;
  std::vector<uint64_t> missing_, bg_order_;
  size_t bg_pos_ = 0;
  std::deque<uint64_t> queue_;
  std::set<uint64_t> queued_;
  std::vector<uint8_t> heat_;
};

// ---------------------------------------------------------------- resuming

class GpuResumeStream final : public ResumeStream {
 public:
  explicit GpuResumeStream(GpuDevice& dev) : dev_(dev), store_(dev.vram.store()) {}

  uint64_t bytes_consumed() const override { return consumed_; }

  StreamStatus write(std::span<const uint8_t> in) override {
    if (!status_.ok()) return status_;
    size_t pos = 0;
    while (pos < in.size() && status_.ok()) {
      if (ended_ && !live_) return fail(StreamError::kTooLong, "bytes after the end record");
      if (hdr_fill_ < kRecordHeaderBytes) {
        const size_t n = std::min<size_t>(kRecordHeaderBytes - hdr_fill_, in.size() - pos);
        std::memcpy(hdr_ + hdr_fill_, in.data() + pos, n);
        hdr_fill_ += n;
        pos += n;
        consumed_ += n;
        if (hdr_fill_ == kRecordHeaderBytes) {
          begin_record();
          if (status_.ok() && type_ == kRecPage && in.size() - pos >= payload_len_) {
            // The whole page payload is here: check it in place, no copy.
            consumed_ += payload_len_;
            accept_page(in.data() + pos);
            pos += payload_len_;
            hdr_fill_ = 0;
          }
        }
        continue;
      }
      const size_t n = std::min<size_t>(payload_len_ - payload_.size(), in.size() - pos);
      payload_.insert(payload_.end(), in.begin() + static_cast<long>(pos),
                      in.begin() + static_cast<long>(pos + n));
      pos += n;
      consumed_ += n;
      if (payload_.size() == payload_len_) end_record();
    }
    return status_;
  }

  StreamStatus write_chunks(const std::vector<StreamChunk>& chunks) override {
    for (const auto& c : chunks) {
      if (!status_.ok()) return status_;
      if (c.kind == kChunkBytes) {
        write(c.bytes);
      } else if (c.kind == kChunkPage && live_) {
        if (hdr_fill_ != 0) return fail(StreamError::kCorrupt, "page chunk inside another record");
        dev_.vram.place_page(c.a, c.b);
        consumed_ += c.size_bytes;
      } else if (c.kind == kChunkPage) {
        if (hdr_fill_ != 0 || ended_)
          return fail(StreamError::kCorrupt, "page chunk arrived inside another record");
        if (!header_seen_) return fail(StreamError::kBadHeader, "page before the header record");
        if (c.a >= store_.page_count())
          return fail(StreamError::kCorrupt, "page index beyond VRAM");
        uint8_t hdr[16];
        put_record_header(hdr, kRecPage, 8 + store_.page_size());
        sum_.bytes(hdr, 16);
        sum_.flush();
        sum_.word(c.a);
        sum_.word(c.b);
        staged_.emplace_back(c.a, c.b);
        consumed_ += c.size_bytes;
      } else {
        return fail(StreamError::kCorrupt, "unknown chunk kind");
      }
    }
    return status_;
  }

  StreamStatus commit_partial() override {
    if (!status_.ok()) return status_;
    if (!ended_ || !missing_seen_)
      return fail(StreamError::kIncomplete,
                  "no complete post-copy switch package (state, missing list, end)");
    const StreamStatus st = apply();
    if (!st.ok()) return st;
    dev_.vram.set_missing(missing_list_);
    live_ = true;
    return status_;
  }

  StreamStatus commit() override {
    if (!status_.ok()) return status_;
    if (live_) {
      if (dev_.vram.missing_count() > 0)
        return fail(StreamError::kIncomplete,
                    std::to_string(dev_.vram.missing_count()) + " pages have not arrived yet");
      return status_;
    }
    if (missing_seen_)
      return fail(StreamError::kIncomplete,
                  "a post-copy stream needs the destination to run while resuming");
    return apply();
  }

  StreamStatus apply() {
    if (!ended_) {
      return fail(StreamError::kIncomplete, "stream ended after " + std::to_string(consumed_) +
                                                " bytes without its end record (truncated image)");
    }
    DeviceState state;
    try {
      state = dev_.parse_state(state_blob_);
    } catch (const StateFormatError& e) {
      return fail(StreamError::kCorrupt, std::string("device state record: ") + e.what());
    }
    // Everything validated: apply atomically.
    store_.clear();
    for (const auto& [page, tok] : staged_) store_.set_token(page, tok);
    dev_.apply_state(state);
    return status_;
  }

 private:
  StreamStatus fail(StreamError e, std::string why) {
    if (status_.ok())
      status_ = StreamStatus{e, "at stream byte " + std::to_string(consumed_) + ": " + why};
    return status_;
  }

  void begin_record() {
    std::memcpy(&type_, hdr_, 4);
    uint32_t zero;
    std::memcpy(&zero, hdr_ + 4, 4);
    std::memcpy(&payload_len_, hdr_ + 8, 8);
    if (!header_seen_ && (type_ != kRecHeader || payload_len_ != kHeaderPayload || zero != 0)) {
      fail(StreamError::kBadHeader,
           "not an mdevsim GPU stream: it does not start with a header record");
      return;
    }
    uint64_t expect = 0;
    switch (type_) {
      case kRecHeader:
        expect = kHeaderPayload;
        break;
      case kRecPage:
        expect = 8 + store_.page_size();
        break;
      case kRecEnd:
        expect = kEndPayload;
        break;
      // Variable lengths: a bound, not a sentinel (a length of ~0 must not
      // match a "reject" value and reach an allocation).
      case kRecState:
        expect = payload_len_ <= (64u << 20) ? payload_len_ : payload_len_ - 1;
        break;
      case kRecMissing:
        expect = payload_len_ >= 8 && payload_len_ % 8 == 0 &&
                         payload_len_ <= 8 + 8 * store_.page_count()
                     ? payload_len_
                     : payload_len_ - 1;
        break;
      default:
        fail(StreamError::kCorrupt, "unknown record type " + std::to_string(type_));
        return;
    }
    if (zero != 0 || payload_len_ != expect) {
      fail(StreamError::kCorrupt,
           "record type " + std::to_string(type_) + " has length " + std::to_string(payload_len_));
      return;
    }
    if (type_ != kRecHeader && !header_seen_) {
      fail(StreamError::kBadHeader, "stream does not start with a header record");
      return;
    }
    if (live_ && type_ != kRecPage) {
      fail(StreamError::kCorrupt, "only page records may follow a post-copy switch package");
      return;
    }
    if (type_ == kRecHeader && header_seen_) {
      fail(StreamError::kCorrupt, "second header record");
      return;
    }
    if (type_ != kRecEnd && !live_) sum_.bytes(hdr_, kRecordHeaderBytes);
    payload_.clear();
    payload_.reserve(payload_len_);
    if (payload_len_ == 0) end_record();
  }

  // A complete page-record payload (u64 index, page bytes).
  void accept_page(const uint8_t* payload) {
    uint64_t page, tok;
    std::memcpy(&page, payload, 8);
    if (page >= store_.page_count()) {
      fail(StreamError::kCorrupt, "page index " + std::to_string(page) + " beyond VRAM");
      return;
    }
    if (!PageStore::token_from_payload(
            page, std::span<const uint8_t>(payload + 8, store_.page_size()), tok)) {
      fail(StreamError::kCorrupt, "content of page " + std::to_string(page) + " is corrupt");
      return;
    }
    if (live_) {  // post-copy: the page goes straight into VRAM
      dev_.vram.place_page(page, tok);
      return;
    }
    sum_.flush();
    sum_.word(page);
    sum_.word(tok);
    staged_.emplace_back(page, tok);
  }

  void end_record() {
    switch (type_) {
      case kRecHeader: {
        sum_.bytes(payload_.data(), payload_.size());
        const auto mine = header_payload(dev_.config());
        if (std::memcmp(payload_.data(), kMagic, 8) != 0) {
          fail(StreamError::kBadHeader, "not an mdevsim GPU stream (bad magic)");
        } else if (payload_ != mine) {
          fail(StreamError::kBadHeader, "stream is from an incompatible device (this one: " +
                                            dev_.compatibility_string() + ")");
        }
        header_seen_ = true;
        break;
      }
      case kRecPage:
        accept_page(payload_.data());
        break;
      case kRecState:
        sum_.bytes(payload_.data(), payload_.size());
        if (state_seen_) {
          fail(StreamError::kCorrupt, "second device-state record");
          break;
        }
        state_blob_ = payload_;
        state_seen_ = true;
        break;
      case kRecMissing: {
        sum_.bytes(payload_.data(), payload_.size());
        uint64_t count;
        std::memcpy(&count, payload_.data(), 8);
        // (compare without multiplying: a huge count must not wrap around)
        if (count != (payload_.size() - 8) / 8) {
          fail(StreamError::kCorrupt, "missing-page record has the wrong length");
          break;
        }
        missing_list_.resize(count);
        if (count > 0) std::memcpy(missing_list_.data(), payload_.data() + 8, count * 8);
        for (uint64_t p : missing_list_)
          if (p >= store_.page_count()) {
            fail(StreamError::kCorrupt, "missing page " + std::to_string(p) + " beyond VRAM");
            break;
          }
        missing_seen_ = true;
        break;
      }
      case kRecEnd: {
        uint64_t before, sum;
        std::memcpy(&before, payload_.data(), 8);
        std::memcpy(&sum, payload_.data() + 8, 8);
        if (before != consumed_ - kRecordHeaderBytes - kEndPayload) {
          fail(StreamError::kCorrupt, "end record counts a different stream length");
        } else if (sum != sum_.value()) {
          fail(StreamError::kCorrupt, "checksum mismatch: the stream was altered");
        } else if (!state_seen_) {
          fail(StreamError::kCorrupt, "stream ended without the device-state record");
        }
        ended_ = true;
        break;
      }
    }
    hdr_fill_ = 0;
    payload_.clear();
  }

  GpuDevice& dev_;
  PageStore& store_;
  StreamStatus status_;
  uint8_t hdr_[kRecordHeaderBytes]{};
  size_t hdr_fill_ = 0;
  uint32_t type_ = 0;
  uint64_t payload_len_ = 0;
  std::vector<uint8_t> payload_;
  uint64_t consumed_ = 0;
  bool header_seen_ = false, state_seen_ = false, ended_ = false;
  std::vector<std::pair<uint64_t, uint64_t>> staged_;
  std::vector<uint8_t> state_blob_;
  Checksum sum_;
  bool missing_seen_ = false, live_ = false;  // live_: running while pages arrive
  std::vector<uint64_t> missing_list_;
};

}  // namespace

std::unique_ptr<SaveStream> GpuDevice::open_save_stream() {
  return std::make_unique<GpuSaveStream>(*this);
}

uint64_t GpuDevice::full_image_bytes() const {
  const auto& store = vram.store();
  return kRecordHeaderBytes + kHeaderPayload +
         store.touched_pages() * (kRecordHeaderBytes + 8 + store.page_size()) + kRecordHeaderBytes +
         serialize_state().size() + kRecordHeaderBytes + kEndPayload;
}

std::unique_ptr<ResumeStream> GpuDevice::open_resume_stream() {
  return std::make_unique<GpuResumeStream>(*this);
}

}  // namespace mdevsim::models
