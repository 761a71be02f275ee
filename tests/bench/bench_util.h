// Helpers shared by the benchmark programs.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace mdevsim::bench {

// A /proc/self/status field in bytes ("VmHWM:" peak RSS, "VmRSS:" current).
inline uint64_t proc_status_bytes(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  const std::string key = field;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(key.size())) * 1024;
  return 0;
}
inline uint64_t peak_rss_bytes() { return proc_status_bytes("VmHWM:"); }
inline uint64_t current_rss_bytes() { return proc_status_bytes("VmRSS:"); }

}  // namespace mdevsim::bench
