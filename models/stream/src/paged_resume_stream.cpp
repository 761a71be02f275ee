// The resuming side of a paged device stream (paged_stream.h). Bytes may
// arrive in any segmentation; every record is checked as it completes and
// nothing reaches the device before commit() found the whole image valid
// (post-copy: commit_partial() and the switch package).
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "mdevsim/models/memory/page_payload.h"
#include "mdevsim/models/stream/paged_stream.h"
#include "mdevsim/models/stream/record_format.h"
#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models {

namespace {

class PagedResumeStream final : public ResumeStream {
 public:
  explicit PagedResumeStream(std::unique_ptr<StreamedDevice> dev)
      : dev_(std::move(dev)), store_(dev_->memory()), header_(dev_->header()) {}

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
          if (status_.ok() && type_ == record::kPage && in.size() - pos >= payload_len_) {
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
        dev_->place_page(c.a, c.b);
        consumed_ += c.size_bytes;
      } else if (c.kind == kChunkPage) {
        if (hdr_fill_ != 0 || ended_)
          return fail(StreamError::kCorrupt, "page chunk arrived inside another record");
        if (!header_seen_) return fail(StreamError::kBadHeader, "page before the header record");
        if (c.a >= store_.page_count())
          return fail(StreamError::kCorrupt, "page index beyond " + dev_->memory_name());
        sum_.page(store_.page_size(), c.a, c.b);
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
    dev_->set_missing(missing_list_);
    live_ = true;
    return status_;
  }

  StreamStatus commit() override {
    if (!status_.ok()) return status_;
    if (live_) {
      if (dev_->missing_pages() > 0)
        return fail(StreamError::kIncomplete,
                    std::to_string(dev_->missing_pages()) + " pages have not arrived yet");
      return status_;
    }
    if (missing_seen_)
      return fail(StreamError::kIncomplete,
                  "a post-copy stream needs the destination to run while resuming");
    return apply();
  }

 private:
  StreamStatus apply() {
    if (!ended_) {
      return fail(StreamError::kIncomplete, "stream ended after " + std::to_string(consumed_) +
                                                " bytes without its end record (truncated image)");
    }
    std::function<void()> apply_state;
    try {
      apply_state = dev_->parse_state(state_blob_);
    } catch (const StateFormatError& e) {
      return fail(StreamError::kCorrupt, std::string("device state record: ") + e.what());
    }
    // Everything validated: apply atomically.
    store_.clear();
    store_.set_tokens(staged_);  // in order: a page sent again ends with its last content
    apply_state();
    return status_;
  }

  StreamStatus fail(StreamError e, std::string why) {
    if (status_.ok())
      status_ = StreamStatus{e, "at stream byte " + std::to_string(consumed_) + ": " + why};
    return status_;
  }

  // The expected payload length of a record of type_ (not payload_len_ when
  // that is wrong; variable lengths are bounded, so a length of ~0 never
  // matches and never reaches an allocation); false for an unknown type.
  bool expected_length(uint64_t& expect) const {
    switch (type_) {
      case record::kHeader:
        expect = header_.size();
        return true;
      case record::kPage:
        expect = 8 + uint64_t{store_.page_size()};
        return true;
      case record::kEnd:
        expect = kEndPayloadBytes;
        return true;
      case record::kState:
        expect = payload_len_ <= (64u << 20) ? payload_len_ : payload_len_ - 1;
        return true;
      case record::kMissing:
        expect = payload_len_ >= 8 && payload_len_ % 8 == 0 &&
                         payload_len_ <= 8 + 8 * store_.page_count()
                     ? payload_len_
                     : payload_len_ - 1;
        return true;
      default:
        return false;
    }
  }

  void begin_record() {
    const RecordHeader h = parse_record_header(hdr_);
    type_ = h.type;
    payload_len_ = h.length;
    if (!header_seen_ &&
        (type_ != record::kHeader || payload_len_ != header_.size() || h.reserved != 0)) {
      fail(StreamError::kBadHeader,
           "not an " + dev_->format_name() + ": it does not start with a header record");
      return;
    }
    uint64_t expect = 0;
    if (!expected_length(expect)) {
      fail(StreamError::kCorrupt, "unknown record type " + std::to_string(type_));
      return;
    }
    if (h.reserved != 0 || payload_len_ != expect) {
      fail(StreamError::kCorrupt,
           "record type " + std::to_string(type_) + " has length " + std::to_string(payload_len_));
      return;
    }
    if (type_ != record::kHeader && !header_seen_) {
      fail(StreamError::kBadHeader, "stream does not start with a header record");
      return;
    }
    if (live_ && type_ != record::kPage) {
      fail(StreamError::kCorrupt, "only page records may follow a post-copy switch package");
      return;
    }
    if (type_ == record::kHeader && header_seen_) {
      fail(StreamError::kCorrupt, "second header record");
      return;
    }
    if (type_ != record::kEnd && !live_) sum_.bytes(hdr_, kRecordHeaderBytes);
    payload_.clear();
    payload_.reserve(payload_len_);
    if (payload_len_ == 0) end_record();
  }

  // A complete page-record payload (u64 index, page bytes).
  void accept_page(const uint8_t* payload) {
    uint64_t page, tok;
    std::memcpy(&page, payload, 8);
    if (page >= store_.page_count()) {
      fail(StreamError::kCorrupt,
           "page index " + std::to_string(page) + " beyond " + dev_->memory_name());
      return;
    }
    if (!page_payload::token_from(
            page, std::span<const uint8_t>(payload + 8, store_.page_size()), tok)) {
      fail(StreamError::kCorrupt, "content of page " + std::to_string(page) + " is corrupt");
      return;
    }
    if (live_) {  // post-copy: the page goes straight into the device's memory
      dev_->place_page(page, tok);
      return;
    }
    sum_.flush();
    sum_.word(page);
    sum_.word(tok);
    staged_.emplace_back(page, tok);
  }

  void end_record() {
    switch (type_) {
      case record::kHeader:
        sum_.bytes(payload_.data(), payload_.size());
        if (std::memcmp(payload_.data(), header_.data(), kMagicBytes) != 0) {
          fail(StreamError::kBadHeader, "not an " + dev_->format_name() + " (bad magic)");
        } else if (payload_ != header_) {
          fail(StreamError::kBadHeader, "stream is from an incompatible device (this one: " +
                                            dev_->compatibility_string() + ")");
        }
        header_seen_ = true;
        break;
      case record::kPage:
        accept_page(payload_.data());
        break;
      case record::kState:
        sum_.bytes(payload_.data(), payload_.size());
        if (state_seen_) {
          fail(StreamError::kCorrupt, "second device-state record");
          break;
        }
        state_blob_ = payload_;
        state_seen_ = true;
        break;
      case record::kMissing:
        end_missing_record();
        break;
      case record::kEnd:
        end_end_record();
        break;
    }
    hdr_fill_ = 0;
    payload_.clear();
  }

  void end_missing_record() {
    sum_.bytes(payload_.data(), payload_.size());
    uint64_t count;
    std::memcpy(&count, payload_.data(), 8);
    // (compare without multiplying: a huge count must not wrap around)
    if (count != (payload_.size() - 8) / 8) {
      fail(StreamError::kCorrupt, "missing-page record has the wrong length");
      return;
    }
    missing_list_.resize(count);
    if (count > 0) std::memcpy(missing_list_.data(), payload_.data() + 8, count * 8);
    for (uint64_t p : missing_list_)
      if (p >= store_.page_count()) {
        fail(StreamError::kCorrupt,
             "missing page " + std::to_string(p) + " beyond " + dev_->memory_name());
        break;
      }
    missing_seen_ = true;
  }

  void end_end_record() {
    uint64_t before, sum;
    std::memcpy(&before, payload_.data(), 8);
    std::memcpy(&sum, payload_.data() + 8, 8);
    if (before != consumed_ - kRecordHeaderBytes - kEndPayloadBytes) {
      fail(StreamError::kCorrupt, "end record counts a different stream length");
    } else if (sum != sum_.value()) {
      fail(StreamError::kCorrupt, "checksum mismatch: the stream was altered");
    } else if (!state_seen_) {
      fail(StreamError::kCorrupt, "stream ended without the device-state record");
    }
    ended_ = true;
  }

  std::unique_ptr<StreamedDevice> dev_;
  PageStore& store_;
  const std::vector<uint8_t> header_;  // what this device's own stream starts with
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
  StreamChecksum sum_;
  bool missing_seen_ = false, live_ = false;  // live_: running while pages arrive
  std::vector<uint64_t> missing_list_;
};

}  // namespace

std::unique_ptr<ResumeStream> open_paged_resume_stream(std::unique_ptr<StreamedDevice> device) {
  return std::make_unique<PagedResumeStream>(std::move(device));
}

}  // namespace mdevsim::models
