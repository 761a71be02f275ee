// The summary a sweep prints at its end, and its exit code.
#pragma once

#include <string>
#include <vector>

#include "mdevsim/sweep/plan.h"

namespace mdevsim::sweep {

struct SummaryInput {
  std::string name;      // the scenario's
  std::string executor;  // "2 jobs", "slurm job 17: ...", "collected from DIR"
  std::string dir;
  size_t already_recorded = 0;
  double wall_s = 0;
  int stop_signal = 0;
  std::vector<std::string> troubles;  // why points have no record
  std::string rerun_command;          // the command to resume with
};

// Prints the summary (stdout; the resume hint and troubles to stderr) and
// returns the exit code: 128+signal when interrupted, 1 when a point has no
// result or crashed, else 0.
int summarize(const Plan& plan, const std::vector<ojson>& lines, const SummaryInput& in);

}  // namespace mdevsim::sweep
