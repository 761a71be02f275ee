// Strict parsing of quantities with units, as scenario files write them.
//
//   sizes  "4GiB" "64KiB" "512MiB" "1.5GB" "4096B"   IEC (Ki, Mi, Gi, Ti: ×1024) or SI (K, M, G, T:
//   ×1000) rates  "10Gbit/s" "500Mbit/s"                     bits per second, SI prefixes
//          "500MiB/s" "2GiB/s" "1GB/s" "100B/s"        bytes per second, IEC or SI
//   times  "300ms" "2s" "50us" "1.5min" "100ns"
//
// A bare "0" needs no unit. Every function throws UnitError with a message that says what was
// expected and gives an example; negative, NaN, infinite and overflowing
// values are refused.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mdevsim::sim {

class UnitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

uint64_t parse_size(const std::string& text);    // bytes
double parse_rate(const std::string& text);      // bytes per second
double parse_duration(const std::string& text);  // seconds

// Human renderings for summaries ("4.00 GiB", "3.13 GB/s", "312.5 ms").
std::string format_bytes(double bytes);
std::string format_rate(double bytes_per_s);
std::string format_duration(double seconds);

}  // namespace mdevsim::sim
