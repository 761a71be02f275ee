// The result of one run, as written to the result JSON ("mdevsim.result/1",
// documented field by field in docs/results.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::sim {

struct IterationResult {
  uint32_t index = 0;
  double start_s = 0;
  double duration_s = 0;
  uint64_t ram_bytes = 0;
  uint64_t device_bytes = 0;
  uint64_t ram_dirty_pages = 0;     // RAM pages found dirty at the sync that started it
  uint64_t device_dirty_bytes = 0;  // device dirty bytes reported when it started
  double bandwidth = 0;             // bytes/s measured for this iteration
  uint64_t remaining_bytes = 0;     // RAM dirty + device stop-copy size at the sync ending it
  double expected_downtime_s = 0;   // remaining / bandwidth when it ended
  double throttle = 0;              // auto-converge vCPU throttle in force (0..0.99)
};

struct StopCopyResult {
  uint64_t ram_bytes = 0;
  uint64_t device_bytes = 0;
  double device_stop_s = 0;  // stopping the device (P2P + STOP arcs)
  double transfer_s = 0;     // moving the residual over the link
  double resume_s = 0;       // destination applying device state + arcs to RUNNING
};

// The first difference a failed check found: a device field or a page.
struct VerificationDifference {
  // register | ring_entry | engine | command_processor | configuration |
  // vram_page | ram_page | missing_pages | destination_state
  std::string kind;
  std::string field;                         // the field's name, for kinds that have one
  std::optional<uint64_t> page;              // vram_page, ram_page
  std::optional<uint64_t> expected, actual;  // source (or reference run) vs destination
};

struct VerificationResult {
  bool checked = false;
  bool passed = false;
  uint64_t vram_pages_mismatched = 0;
  uint64_t ram_pages_mismatched = 0;
  uint64_t device_fields_mismatched = 0;
  bool continuation_matches = false;  // migrated run continued like the reference run
  bool source_intact = false;  // cancelled: source device RUNNING again, VM running, state kept
  bool source_reset = false;   // the source device had to be reset (VFIO_DEVICE_RESET) to run
  std::vector<std::string>
      differences;  // first few, human readable ("vram page 17", "ctx[3].rptr")
  // The earliest check that failed: "switch" (destination vs source at its
  // stop), "continuation" (vs the reference run), "postcopy" (fetched pages);
  // empty when none did.
  std::string failed_check;
  std::optional<VerificationDifference> first_difference;  // of that check
  uint64_t differences_in_check = 0;  // how many that check found, the first included
};

// One scheduled fault and what became of it (scenario order).
struct FaultResult {
  std::string kind;  // fault_kind_name()
  double at_s = 0;
  double duration_s = 0;  // link_down, degrade
  std::string target;     // corrupt: "ram" or "device"
  bool applied = false;   // it took effect during the migration
  double lost_s = 0;      // link_down: time transfers waited for the link
  std::string effect;     // what it did, or why it was not applied
};

struct DeviceRunStats {  // device-only runs (no migration section)
  uint64_t page_writes = 0;
  uint64_t unique_pages = 0;
  double achieved_rate = 0;                                         // bytes/s of page writes
  std::vector<std::pair<double, uint64_t>> unique_pages_over_time;  // (t, distinct pages)
};

struct Result {
  std::string scenario;
  uint64_t seed = 0;
  std::string outcome = "completed";  // completed | failed | cancelled | vm_lost
  std::string reason;                 // why, when not completed
  bool converged = false;             // QEMU's switchover rule fired (switchover == "converged")
  // How the VM moved: converged | forced | postcopy | none (docs/results.md).
  std::string switchover = "none";
  double total_time_s = 0;
  double downtime_s = 0;
  uint64_t ram_bytes = 0, device_bytes = 0;
  std::vector<IterationResult> iterations;
  std::optional<StopCopyResult> stop_copy;
  std::optional<nlohmann::json> postcopy;
  VerificationResult verification;
  std::vector<FaultResult> faults;
  std::map<std::string, uint64_t> abi_calls;   // "ioctl VFIO_DEVICE_FEATURE" → count
  std::map<std::string, uint64_t> abi_errors;  // "EINVAL" → count
  std::optional<DeviceRunStats> device_run;
};

// Which check failed and its first difference, for people:
// "after the continuation: register FENCE_COMPLETED 44119 vs 44132 (and 3 more)".
// Empty when no check failed.
std::string describe_verification_failure(const VerificationResult& v);

// Stable, deterministic JSON (keys in a fixed order, numbers as computed).
nlohmann::ordered_json to_json(const Result& r);

// 0 completed and verified; 1 the migration failed or verification differs.
int exit_code_for(const Result& r);

}  // namespace mdevsim::sim
