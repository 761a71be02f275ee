// Little-endian serialisation helpers for device state. Readers never trust
// their input: every read is bounds-checked and a short or malformed blob
// throws StateFormatError naming what was being read.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mdevsim::models {

class StateFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateWriter {
 public:
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  const std::vector<uint8_t>& data() const { return out_; }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  void put(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    out_.insert(out_.end(), b, b + n);
  }
  std::vector<uint8_t> out_;
};

class StateReader {
 public:
  explicit StateReader(std::span<const uint8_t> in) : in_(in) {}
  uint8_t u8(const char* what) {
    uint8_t v;
    get(&v, 1, what);
    return v;
  }
  uint32_t u32(const char* what) {
    uint32_t v;
    get(&v, 4, what);
    return v;
  }
  uint64_t u64(const char* what) {
    uint64_t v;
    get(&v, 8, what);
    return v;
  }
  // A count that must not exceed `limit` (guards allocations on corrupt input).
  uint64_t count(const char* what, uint64_t limit) {
    const uint64_t n = u64(what);
    if (n > limit)
      throw StateFormatError(std::string(what) + ": " + std::to_string(n) + " exceeds limit " +
                             std::to_string(limit));
    return n;
  }
  size_t remaining() const { return in_.size() - pos_; }
  void expect_end(const char* what) const {
    if (pos_ != in_.size())
      throw StateFormatError(std::string(what) + ": " + std::to_string(remaining()) +
                             " unexpected trailing bytes");
  }

 private:
  void get(void* p, size_t n, const char* what) {
    if (in_.size() - pos_ < n)
      throw StateFormatError(std::string("truncated while reading ") + what);
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace mdevsim::models
