// A scenario: everything one `mdevsim run` simulates, loaded from a JSON file
// (comments allowed) and validated strictly. See docs/scenarios.md.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mdevsim/models/gpu/device_config.h"
#include "mdevsim/models/workload/workload_pattern.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim {

// Bad input: names the file, the JSON path ("/device/vram") and what is
// wrong. The CLI turns it into exit code 2.
class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string json_path, std::string reason)
      : std::runtime_error(file + ": " + (json_path.empty() ? "" : json_path + ": ") + reason),
        file_(std::move(file)),
        json_path_(std::move(json_path)),
        reason_(std::move(reason)) {}
  const std::string& file() const { return file_; }
  const std::string& json_path() const { return json_path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_, json_path_, reason_;
};

struct DeviceSection {
  std::string type = "gpu";  // the device factory's type (models/factory/device_factory.h)
  models::DeviceConfig config;
  std::string protocol = "v2";  // "v1", "v2", a shipped proposal name or a protocol file path
  // The resolved v2-style protocol (null for the builtin v1/v2).
  std::shared_ptr<const vfio::ProtocolSpec> protocol_def;
  std::vector<std::string> features = {"stop_copy", "p2p", "pre_copy"};  // v2
  bool v1_strict = false;
  bool precopy_enomsg = true;                     // PRE_COPY empty read: ENOMSG (true) or 0
  bool kernel_before_2025 = false;                // "kernel": "before-2025" (EINVAL, not ENOTTY)
  double resume_bandwidth = 64.0 * (1ull << 30);  // bytes/s the destination applies state
  // The source's own speed (docs/scenarios.md): the data fd yields device
  // state no faster than save_bandwidth (the vendor driver's read-out: copy
  // engine, PCIe), and the stop-copy pays save_fixed_cost once. Defaults
  // keep the read-out free: no source gives a vendor-neutral figure.
  double save_bandwidth = std::numeric_limits<double>::infinity();  // bytes/s
  double save_fixed_cost_s = 0;
  // fault injection (device options)
  std::optional<std::pair<std::string, std::string>> fail_arc;  // state names
  std::optional<uint64_t> corrupt_stream_at;
  bool reject_stream = false;  // destination refuses the stream
};

struct VmSection {
  uint64_t ram_bytes = uint64_t{1} << 30;
  uint32_t page_size = 4096;
  uint32_t vcpus = 4;
  bool dma_dirty_tracking = true;
  // QEMU reads every RAM page it sends to find zero pages (buffer_is_zero):
  // a pass takes at least scanned bytes / scan_bandwidth. Default 9 GB/s:
  // one core's read bandwidth through an AVX2 zero check (docs/scenarios.md).
  double scan_bandwidth = 9e9;  // bytes/s; infinity: "unlimited"
  std::vector<models::ResidentRegion> resident;  // RAM in use from time 0; empty: none
};

struct LinkSection {
  double bandwidth = 10e9 / 8;  // bytes/s
  double latency_s = 0.0001;
  std::optional<double> rate_limit;  // bytes/s, migration max-bandwidth
  // Payload share of the line rate: TCP/IP with timestamps over 1500-byte
  // Ethernet frames carries 1448 bytes per 1538 on the wire. 1.0: ideal.
  double efficiency = 1448.0 / 1538.0;
  // What one stream (one TCP connection and its sending thread) carries at
  // most: each multifd channel, or the single migration stream without
  // multifd. Infinity ("unlimited", the default): only the link limits.
  double stream_cap = std::numeric_limits<double>::infinity();
};

enum class MigrationMode { kPrecopy, kPostcopy, kHybrid };
enum class OnNoConvergence { kCancel, kForce };
enum class MigrationLoop { kPasses, kQemu };
enum class QemuPolicy { k8_1, k9_2 };

struct MigrationSection {
  double start_at_s = 0.1;
  MigrationMode mode = MigrationMode::kPrecopy;
  double downtime_limit_s = 0.3;
  bool auto_converge = false;
  uint32_t max_iterations = 30;  // 0: no limit
  double timeout_s = 0;          // 0: no limit (QEMU has no pre-copy timeout)
  OnNoConvergence on_no_convergence = OnNoConvergence::kCancel;
  double link_timeout_s = 1.0;             // link down longer than this cancels
  uint32_t postcopy_after_iterations = 2;  // hybrid: pre-copy rounds before post-copy
  double postcopy_after_s = 0;             // hybrid: or this much pre-copy time (0: no budget)
  uint32_t prefetch_pages = 0;             // post-copy: pages fetched after each faulting one
  bool background_push = true;             // post-copy: push the rest while serving faults
  bool postcopy_preempt = false;           // QEMU's postcopy-preempt: requested pages' own channel
  bool hot_first = true;                   // background order: hottest pre-copy pages first
  double run_after_s = 0.1;                // destination keeps running this long, then compared
  bool exact = false;                      // byte-copying stream path instead of zero-copy
  // QEMU's migration thread (vmm/migration_thread.h) instead of whole passes.
  MigrationLoop loop = MigrationLoop::kPasses;
  QemuPolicy qemu_policy = QemuPolicy::k9_2;  // how the device's pending bytes are counted
  bool switchover_ack = false;                // QEMU's switchover-ack capability (loop qemu)
  // Loop qemu: give up when the pending has not reached a new low for this
  // long (0: never). QEMU waits for ever; a simulation must end.
  double stall_timeout_s = 60.0;
  // QEMU's multifd capability with this many channels (0: off, QEMU's
  // default); RAM pages go over them (vmm/multifd.h). Pre-copy only.
  uint32_t multifd_channels = 0;
};

enum class FaultKind { kLinkDown, kDegrade, kDeviceError, kDestCrash, kSourceCrash, kCorrupt };
enum class CorruptTarget { kRam, kDevice };

struct Fault {
  double at_s = 0;
  FaultKind kind = FaultKind::kLinkDown;
  double duration_s = 0;                       // link_down, degrade
  double bandwidth = 0;                        // degrade: bytes/s while degraded
  CorruptTarget target = CorruptTarget::kRam;  // corrupt: which wire bytes
};

// The fault's name in scenarios and results ("link_down", ...).
inline const char* fault_kind_name(FaultKind k) {
  switch (k) {
    case FaultKind::kLinkDown:
      return "link_down";
    case FaultKind::kDegrade:
      return "degrade";
    case FaultKind::kDeviceError:
      return "device_error";
    case FaultKind::kDestCrash:
      return "dest_crash";
    case FaultKind::kSourceCrash:
      return "source_crash";
    case FaultKind::kCorrupt:
      return "corrupt";
  }
  return "?";
}

struct Scenario {
  std::string file;  // where it came from ("" for built-in)
  std::string name;
  std::string description;
  uint64_t seed = 1;
  double duration_s = 1.0;  // device-only runs: simulated time
  DeviceSection device;
  models::WorkloadSpec workload;  // device workload (VRAM + DMA)
  VmSection vm;
  models::PatternSpec guest;  // vCPU dirtying of guest RAM (the first or only pattern)
  std::vector<models::PatternSpec> guest_concurrent;  // further guest patterns at once
  std::vector<models::PatternSpec> guest_patterns() const {
    std::vector<models::PatternSpec> all{guest};
    all.insert(all.end(), guest_concurrent.begin(), guest_concurrent.end());
    return all;
  }
  LinkSection link;
  MigrationSection migration;
  std::vector<Fault> faults;
  bool migrates = false;  // has a `migration` section
  std::string expect;     // `expect` section as JSON text (scenario's own test expectation)
};

// Loads, applies `overrides` ("PATH=VALUE", PATH like device.vram), and
// validates. Throws InputError.
Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from the file's text (`path` names it in errors and anchors
// relative paths inside it); what the scenario fuzzer calls.
Scenario load_scenario_text(const std::string& text, const std::string& path,
                            const std::vector<std::string>& overrides = {});

}  // namespace mdevsim::sim
