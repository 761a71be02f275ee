// Deterministic random numbers for workloads and page contents.
//
// Everything random in mdevsim derives from the scenario seed through these
// functions, so the same seed gives the same run bit for bit on any machine.
#pragma once

#include <cstdint>

namespace mdevsim::models {

// SplitMix64 finaliser: a fast, well-mixed bijection on 64-bit values.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Counter-based stream: value number `n` of stream `key`. Lets a command in
// flight be captured as (key, progress) and resumed exactly after migration.
constexpr uint64_t stream_value(uint64_t key, uint64_t n) { return mix64(key ^ mix64(n)); }

// Uniform double in [0, 1) from a 64-bit value (53 significant bits).
constexpr double unit_double(uint64_t v) { return static_cast<double>(v >> 11) * 0x1.0p-53; }

// Unbiased-enough bounded value (Lemire's multiply-shift; bias < 2^-32 for our ranges).
inline uint64_t bounded(uint64_t v, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(v) * bound) >> 64);
}

// Sequential generator with explicit, serialisable state.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next() { return mix64(state_++); }
  uint64_t below(uint64_t bound) { return bounded(next(), bound); }
  double uniform() { return unit_double(next()); }
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace mdevsim::models
