// The saving side of a paged device stream (paged_stream.h): the header,
// pre-copy passes of pages, then at the stop the rest of the pages, the
// state and the end; or, for post-copy, the switch package (state, missing
// list, end) followed by the pages the destination asks for or is pushed.
#include <algorithm>
#include <cstring>
#include <optional>

#include "mdevsim/models/memory/page_payload.h"
#include "mdevsim/models/stream/paged_stream.h"
#include "mdevsim/models/stream/pass_tracker.h"
#include "mdevsim/models/stream/postcopy_queue.h"
#include "mdevsim/models/stream/record_format.h"
#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models {

namespace {

class PagedSaveStream final : public SaveStream {
 public:
  explicit PagedSaveStream(std::unique_ptr<StreamedDevice> dev)
      : dev_(std::move(dev)),
        store_(dev_->memory()),
        header_(dev_->header()),
        page_record_(page_record_bytes(store_.page_size())),
        passes_(store_) {}

  uint64_t initial_bytes() const override {
    if (!passes_.initial()) return 0;
    return passes_.pass_pages() * page_record_ + header_record_left() + pending_rest();
  }
  uint64_t dirty_bytes() const override {
    const bool later = !passes_.initial();
    return (passes_.dirty_pages() + (later ? passes_.pass_pages() : 0)) * page_record_ +
           (later ? pending_rest() : 0);
  }
  uint64_t stop_copy_bytes() const override {
    return passes_.union_pages() * page_record_ + pending_rest() + header_record_left() +
           (state_sent_ ? 0 : kRecordHeaderBytes + dev_->state().size()) +
           (end_sent_ ? 0 : kRecordHeaderBytes + kEndPayloadBytes);
  }

  void finalize() override { finalized_ = true; }
  bool finalized() const override { return finalized_; }
  bool at_end() const override {
    return end_sent_ && cur_.off == cur_.size &&
           (!postcopy_ || (postcopy_queue_.unsent() == 0 && postcopy_queue_.queue_empty()));
  }

  bool finalize_postcopy() override {
    if (postcopy_) return true;
    finalized_ = postcopy_ = true;
    // Whatever is still to send (this pass, or dirty since) stays at the
    // source; the destination learns the list from the MISSING record.
    postcopy_queue_.start(store_.page_count(), passes_.take_unsent());
    return true;
  }
  bool postcopy() const override { return postcopy_; }
  uint64_t queue_pages(uint64_t first, uint64_t count) override {
    return postcopy_queue_.queue(first, count);
  }
  uint64_t queue_background(uint64_t max_pages, bool hot_first) override {
    return postcopy_queue_.queue_background(max_pages, hot_first, passes_.heat());
  }
  uint64_t postcopy_unsent() const override { return postcopy_queue_.unsent(); }
  uint64_t bytes_produced() const override { return produced_; }
  void corrupt_at(uint64_t offset) override { corrupt_at_ = offset; }

  size_t read(std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      if (cur_.off == cur_.size && !next_record()) break;
      if (cur_.type == record::kPage && cur_.off == 0 && !cur_.materialised &&
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
      const bool whole_page = cur_.type == record::kPage && cur_.off == 0 && !corrupt_at_ &&
                              cur_.size <= max_bytes - done;
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
  // The record being read out; page records are built only when needed.
  struct Record {
    uint32_t type = 0;
    uint64_t size = 0, off = 0;
    uint64_t page = 0, token = 0;
    bool materialised = false;
    std::vector<uint8_t> bytes;
  };

  uint64_t pending_rest() const { return cur_.size - cur_.off; }
  uint64_t header_record_left() const {
    return header_sent_ ? 0 : kRecordHeaderBytes + header_.size();
  }

  // A record whose bytes are all here (header, state, missing list), folded
  // into the checksum.
  void literal_record(uint32_t type, const std::vector<uint8_t>& payload) {
    cur_ = Record{};
    cur_.type = type;
    cur_.size = kRecordHeaderBytes + payload.size();
    cur_.bytes.resize(cur_.size);
    put_record_header(cur_.bytes.data(), type, payload.size());
    if (!payload.empty())
      std::memcpy(cur_.bytes.data() + kRecordHeaderBytes, payload.data(), payload.size());
    cur_.materialised = true;
    sum_.bytes(cur_.bytes.data(), cur_.bytes.size());
  }

  bool next_record() {
    if (!header_sent_) {
      literal_record(record::kHeader, header_);
      header_sent_ = true;
      return true;
    }
    uint64_t page;
    if (passes_.next(page)) {
      passes_.sent(page, finalized_);
      start_page(page);
      sum_.page(store_.page_size(), page, cur_.token);
      return true;
    }
    if (end_sent_ && postcopy_) {
      // A post-copy page: verified on arrival by its payload, outside the checksum.
      if (!postcopy_queue_.pop(page)) return false;
      start_page(page);
      return true;
    }
    if (!finalized_ || end_sent_) return false;
    if (postcopy_ && state_sent_ && !missing_sent_) {
      StateWriter w;
      w.u64(postcopy_queue_.missing().size());
      for (uint64_t p : postcopy_queue_.missing()) w.u64(p);
      literal_record(record::kMissing, w.take());
      missing_sent_ = true;
      return true;
    }
    if (!state_sent_) {
      literal_record(record::kState, dev_->state());
      state_sent_ = true;
      return true;
    }
    cur_ = Record{};
    cur_.type = record::kEnd;
    cur_.size = kRecordHeaderBytes + kEndPayloadBytes;
    cur_.bytes.resize(cur_.size);
    put_record_header(cur_.bytes.data(), record::kEnd, kEndPayloadBytes);
    const uint64_t before = produced_;
    const uint64_t sum = sum_.value();
    std::memcpy(cur_.bytes.data() + kRecordHeaderBytes, &before, 8);
    std::memcpy(cur_.bytes.data() + kRecordHeaderBytes + 8, &sum, 8);
    cur_.materialised = true;
    end_sent_ = true;
    return true;
  }

  void start_page(uint64_t page) {
    cur_ = Record{};
    cur_.type = record::kPage;
    cur_.size = page_record_;
    cur_.page = page;
    cur_.token = store_.token(page);
  }

  void write_page_record(uint8_t* out) const {
    put_record_header(out, record::kPage, cur_.size - kRecordHeaderBytes);
    std::memcpy(out + kRecordHeaderBytes, &cur_.page, 8);
    page_payload::fill(cur_.page, cur_.token,
                            std::span<uint8_t>(out + kRecordHeaderBytes + 8, store_.page_size()));
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

  std::unique_ptr<StreamedDevice> dev_;
  PageStore& store_;
  const std::vector<uint8_t> header_;
  const uint64_t page_record_;
  PassTracker passes_;
  bool header_sent_ = false, finalized_ = false, state_sent_ = false, end_sent_ = false;
  Record cur_;
  uint64_t produced_ = 0;
  StreamChecksum sum_;
  std::optional<uint64_t> corrupt_at_;
  bool postcopy_ = false, missing_sent_ = false;
  PostcopyQueue postcopy_queue_;
};

}  // namespace

std::unique_ptr<SaveStream> open_paged_save_stream(std::unique_ptr<StreamedDevice> device) {
  return std::make_unique<PagedSaveStream>(std::move(device));
}

}  // namespace mdevsim::models
