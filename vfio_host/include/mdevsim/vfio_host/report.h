// The JSON report the vfio_host interposer (libmdevsim-vfio-host.so) keeps
// for one QEMU process: rewritten atomically (temp file + rename) after
// every key event and at exit, to the path in MDEVSIM_VFIO_REPORT.
//
//   {"schema": "mdevsim.vfio_host/1", "pid": 1234, "role": "src"|"dst",
//    "devices": [{"name": "mdevsim0", "protocol": "v1"|"v2",
//                 "state": "RUNNING",            current device_state name
//                 "arcs": ["RUNNING -> RUNNING_P2P", ...],  single arcs walked, in order
//                 "digest_at_save_end": "0123456789abcdef"|null,
//                 "digest_after_resume": "0123456789abcdef"|null,
//                 "dma_pages": [{"iova": 16777216, "hash": "..."}],
//                 "ram_hashes_at_resume": [{"iova": ..., "hash": "..."}],
//                 "dma_bytes_written": 0, "calls": 0, "errors": 0,
//                 "wall_ns": {"device_stop": ns|null, "stop_copy": ns|null,
//                             "first_stop_copy_read": ns|null, "save_end": ns|null}}]}
//
// Digests are GpuDevice::state_hash() (everything that migrates: VRAM
// content and internal state) as 16 lower-case hex digits. Page hashes are
// page_hash() below, FNV-1a 64 over the 4096 bytes of the page, in the same
// format; both sides use this one function. `wall_ns` are CLOCK_MONOTONIC
// times (one clock for every process of the machine) of the source's v2
// stop-copy: when the SET that stopped the device returned, when the one
// that entered STOP_COPY returned, QEMU's first read of the data fd in it,
// and its read that returned 0; absent in older reports. `role` is "dst" when QEMU was
// started with -incoming.
//
// Header-only (nlohmann::json), so a reader parses with the same code:
//   auto r = nlohmann::json::parse(text).get<mdevsim::vfio_host::Report>();
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::vfio_host {

inline constexpr const char* kReportSchema = "mdevsim.vfio_host/1";
inline constexpr uint64_t kHashPageBytes = 4096;

// FNV-1a, 64 bit.
inline uint64_t page_hash(const void* data, size_t len = kHashPageBytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

inline std::string hash_hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

struct PageHash {
  uint64_t iova = 0;
  std::string hash;
  bool operator==(const PageHash&) const = default;
};

// CLOCK_MONOTONIC nanoseconds, comparable across processes.
struct WallTimes {
  std::optional<uint64_t> device_stop, stop_copy, first_stop_copy_read, save_end;
};

struct DeviceReport {
  std::string name;
  std::string protocol;  // "v1" | "v2"
  std::string state;
  std::vector<std::string> arcs;                   // "FROM -> TO", one per single arc
  std::optional<std::string> digest_at_save_end;   // source: the save stream's end was read
  std::optional<std::string> digest_after_resume;  // destination: it left RESUMING
  std::vector<PageHash> dma_pages;                 // source: pages DMA-written, hashed at stop
  std::vector<PageHash> ram_hashes_at_resume;      // destination: non-zero mapped RAM pages
  uint64_t dma_bytes_written = 0;
  uint64_t calls = 0;
  uint64_t errors = 0;
  WallTimes wall_ns;
};

struct Report {
  std::string schema = kReportSchema;
  int64_t pid = 0;
  std::string role;  // "src" | "dst"
  std::vector<DeviceReport> devices;
};

inline void to_json(nlohmann::json& j, const PageHash& p) {
  j = {{"iova", p.iova}, {"hash", p.hash}};
}
inline void from_json(const nlohmann::json& j, PageHash& p) {
  j.at("iova").get_to(p.iova);
  j.at("hash").get_to(p.hash);
}

namespace detail {
inline nlohmann::json opt(const std::optional<std::string>& s) {
  return s ? nlohmann::json(*s) : nlohmann::json(nullptr);
}
inline std::optional<std::string> opt(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}
inline nlohmann::json opt(const std::optional<uint64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
inline std::optional<uint64_t> opt_u64(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<uint64_t>();
}
}  // namespace detail

inline void to_json(nlohmann::json& j, const DeviceReport& d) {
  j = {{"name", d.name},
       {"protocol", d.protocol},
       {"state", d.state},
       {"arcs", d.arcs},
       {"digest_at_save_end", detail::opt(d.digest_at_save_end)},
       {"digest_after_resume", detail::opt(d.digest_after_resume)},
       {"dma_pages", d.dma_pages},
       {"ram_hashes_at_resume", d.ram_hashes_at_resume},
       {"dma_bytes_written", d.dma_bytes_written},
       {"calls", d.calls},
       {"errors", d.errors},
       {"wall_ns",
        {{"device_stop", detail::opt(d.wall_ns.device_stop)},
         {"stop_copy", detail::opt(d.wall_ns.stop_copy)},
         {"first_stop_copy_read", detail::opt(d.wall_ns.first_stop_copy_read)},
         {"save_end", detail::opt(d.wall_ns.save_end)}}}};
}
inline void from_json(const nlohmann::json& j, DeviceReport& d) {
  j.at("name").get_to(d.name);
  j.at("protocol").get_to(d.protocol);
  j.at("state").get_to(d.state);
  j.at("arcs").get_to(d.arcs);
  d.digest_at_save_end = detail::opt(j.at("digest_at_save_end"));
  d.digest_after_resume = detail::opt(j.at("digest_after_resume"));
  j.at("dma_pages").get_to(d.dma_pages);
  j.at("ram_hashes_at_resume").get_to(d.ram_hashes_at_resume);
  j.at("dma_bytes_written").get_to(d.dma_bytes_written);
  j.at("calls").get_to(d.calls);
  j.at("errors").get_to(d.errors);
  if (const auto w = j.find("wall_ns"); w != j.end()) {
    d.wall_ns.device_stop = detail::opt_u64(*w, "device_stop");
    d.wall_ns.stop_copy = detail::opt_u64(*w, "stop_copy");
    d.wall_ns.first_stop_copy_read = detail::opt_u64(*w, "first_stop_copy_read");
    d.wall_ns.save_end = detail::opt_u64(*w, "save_end");
  }
}

inline void to_json(nlohmann::json& j, const Report& r) {
  j = {{"schema", r.schema}, {"pid", r.pid}, {"role", r.role}, {"devices", r.devices}};
}
inline void from_json(const nlohmann::json& j, Report& r) {
  j.at("schema").get_to(r.schema);
  j.at("pid").get_to(r.pid);
  if (j.contains("role")) j.at("role").get_to(r.role);
  j.at("devices").get_to(r.devices);
}

}  // namespace mdevsim::vfio_host
