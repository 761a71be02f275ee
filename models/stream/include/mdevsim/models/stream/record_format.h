// The framing every device stream shares. A stream is a sequence of records,
// each a 16-byte header (u32 type, u32 zero, u64 payload length) and its
// payload:
//   HEADER  an 8-byte magic naming the format, then what the destination
//           must match (the device type's configuration); fixed length
//   PAGE    u64 page index, page_size bytes of content (models/memory/page_payload.h)
//   STATE   the device's internal state as one blob
//   MISSING post-copy only: u64 count, then count u64 page indices the
//           destination must fetch on demand (before END, so it is checksummed)
//   END     u64 stream bytes before this record, u64 checksum
// After a post-copy END, only PAGE records follow: pages served on request.
// The checksum folds every record header, every non-page payload byte, and
// (page, token) for each page record: the page payload itself is verified
// byte for byte against its token, so no flipped bit goes unnoticed, while
// the in-process chunk path need not materialise page bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

namespace record {
inline constexpr uint32_t kHeader = 1, kPage = 2, kState = 3, kEnd = 4, kMissing = 5;
}  // namespace record

inline constexpr uint64_t kRecordHeaderBytes = 16;
inline constexpr uint64_t kEndPayloadBytes = 16;
inline constexpr size_t kMagicBytes = 8;  // the HEADER payload starts with it
// StreamChunk kinds of the in-process path: a whole page record as
// (page, token), or literal stream bytes.
inline constexpr uint32_t kChunkPage = 1, kChunkBytes = 2;

inline constexpr uint64_t page_record_bytes(uint32_t page_size) {
  return kRecordHeaderBytes + 8 + page_size;
}

// A complete image of `pages` pages: header, pages, state, end.
inline constexpr uint64_t image_bytes(uint64_t header_payload, uint64_t pages, uint32_t page_size,
                                      uint64_t state_payload) {
  return kRecordHeaderBytes + header_payload + pages * page_record_bytes(page_size) +
         kRecordHeaderBytes + state_payload + kRecordHeaderBytes + kEndPayloadBytes;
}

struct RecordHeader {
  uint32_t type = 0;
  uint32_t reserved = 0;  // must be zero
  uint64_t length = 0;    // payload bytes
};

inline void put_record_header(uint8_t* out, uint32_t type, uint64_t length) {
  const uint32_t zero = 0;
  std::memcpy(out, &type, 4);
  std::memcpy(out + 4, &zero, 4);
  std::memcpy(out + 8, &length, 8);
}

inline RecordHeader parse_record_header(const uint8_t* in) {
  RecordHeader h;
  std::memcpy(&h.type, in, 4);
  std::memcpy(&h.reserved, in + 4, 4);
  std::memcpy(&h.length, in + 8, 8);
  return h;
}

// The END record's checksum: bytes are folded eight at a time (a partial
// word is flushed with its length), words one by one.
class StreamChecksum {
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
  // A page record counts as its header and (page, token).
  void page(uint32_t page_size, uint64_t page, uint64_t token) {
    uint8_t hdr[kRecordHeaderBytes];
    put_record_header(hdr, record::kPage, 8 + uint64_t{page_size});
    bytes(hdr, kRecordHeaderBytes);
    flush();
    word(page);
    word(token);
  }
  uint64_t value() {
    flush();
    return h_;
  }

 private:
  uint64_t h_ = 0x6d64657673696d31ULL, acc_ = 0;
  unsigned fill_ = 0;
};

}  // namespace mdevsim::models
