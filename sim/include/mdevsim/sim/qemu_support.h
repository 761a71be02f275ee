// What `mdevsim qemu` and `mdevsim qemu-migrate` share: finding a QEMU and
// the interposer, the fake sysfs node QEMU is pointed at, child processes,
// scenarios with QEMU-only migration keys, and the interposer's report.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {

// A QEMU binary and how to run it (7.2 unpacked: module dir and firmware).
struct QemuBinary {
  std::string path;
  std::vector<std::string> extra_args;                   // e.g. -L FIRMWARE
  std::vector<std::pair<std::string, std::string>> env;  // e.g. QEMU_MODULE_DIR
  std::string version_line;                              // first line of --version
  std::string version;                                   // "10.0.2"
  int major = 0, minor = 0;
};

// "10.0": /usr/bin/qemu-system-x86_64 (or MDEVSIM_QEMU10); "7.2": the tree
// scripts/install-deps unpacked (or MDEVSIM_QEMU72_DIR); anything else: a
// path to a binary. Throws InputError (option --qemu) when it cannot be run.
QemuBinary find_qemu(const std::string& spec);

// The interposer library (MDEVSIM_VFIO_HOST_LIB, next to the mdevsim binary
// in vfio_host/, or in the build tree); "" when not built.
std::string find_interposer();

// ROOT/devices/NAME with iommu_group and subsystem symlinks, as QEMU reads
// sysfs for -device vfio-pci,sysfsdev=... Returns ROOT/devices/NAME.
inline constexpr int kFakeIommuGroup = 42;
std::string make_fake_sysfs(const std::string& root, const std::string& name);

std::string make_temp_dir(const std::string& prefix);
void remove_tree(const std::string& path);

// A child process with its own environment changes and stdout+stderr to a file.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // log_file "" keeps the parent's stdout/stderr. Throws std::runtime_error.
  void start(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::string>>& env,
             const std::string& log_file);
  bool running();  // not yet reaped
  // Waits up to `timeout` (forever when negative); the exit status or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  void kill_now();  // SIGKILL and reap
  pid_t pid() const { return pid_; }
  // 0-255 exit code, 128+signal when killed; -1 while running.
  int exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// The QEMU-only keys of a scenario's migration section, read and removed
// before the scenario goes through load_scenario.
// none: QEMU told not to use the device's logging and left to decide (a blocker).
enum class DirtyTracking { kDmaLogging, kType1, kNone };
struct QemuMigrationKeys {
  uint32_t multifd_channels = 0;  // scenario.migration.multifd_channels, for QEMU's command line
  bool switchover_ack = false;
  DirtyTracking dirty_tracking = DirtyTracking::kDmaLogging;
};

struct QemuScenario {
  Scenario scenario;
  QemuMigrationKeys keys;
  nlohmann::json applied;  // the file with --set applied and QEMU-only keys removed
};

// Throws InputError naming the original file.
QemuScenario load_qemu_scenario(const std::string& path, const std::vector<std::string>& sets);

// The interposer's report (schema mdevsim.vfio_host/1), one device.
struct HostDeviceReport {
  std::string name, protocol, state;
  std::vector<std::string> arcs;  // single arcs walked, "FROM -> TO"
  std::optional<std::string> digest_at_save_end, digest_after_resume;
  std::vector<std::pair<uint64_t, std::string>> dma_pages, ram_hashes_at_resume;
  uint64_t dma_bytes_written = 0;
  nlohmann::json calls, errors, raw;
};
// nullopt when the file is missing or unreadable; `why` says which.
std::optional<HostDeviceReport> read_host_report(const std::string& path, std::string* why);

// Joins the per-process ABI traces into one file in `mdevsim run --trace`'s
// format: the HOST column set to src / dst, lines ordered by time (stable).
bool merge_traces(const std::string& src, const std::string& dst, const std::string& out);

std::string read_text(const std::string& path);

}  // namespace mdevsim::sim
