// `mdevsim step` scripts run from strings, many in one process (what the
// step fuzzer drives). SystemC elaborates once, so the devices are built in
// the constructor, before the first sc_start; each run() starts the script
// on fresh frontends (no open fds, src selected) and returns when it ends.
// The devices are smaller than the CLI's (4 MiB VRAM) and a command moves at
// most 1 MiB, so that a script runs in milliseconds.
#pragma once

#include <iosfwd>
#include <limits>
#include <memory>
#include <string>

namespace mdevsim::sim {

class StepScriptRunner {
 public:
  // protocol: v1, v2, a shipped proposal or a protocol file (every feature
  // on). max_run_s bounds the simulated time `run` commands may pass per script.
  explicit StepScriptRunner(const std::string& protocol, bool json = false,
                            double max_run_s = std::numeric_limits<double>::infinity());
  ~StepScriptRunner();
  StepScriptRunner(const StepScriptRunner&) = delete;
  StepScriptRunner& operator=(const StepScriptRunner&) = delete;

  // Runs the script's lines, writing what the command prints to `out`;
  // returns how many lines could not be run (unknown command, bad argument).
  int run(const std::string& script, std::ostream& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mdevsim::sim
