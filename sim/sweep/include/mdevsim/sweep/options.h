// The command line of `mdevsim sweep` and its --help.
#pragma once

#include <string>

#include "mdevsim/sweep/plan.h"
#include "mdevsim/sweep/slurm_executor.h"

namespace mdevsim::sweep {

extern const char* const kHelp;

struct Options {
  Plan plan;
  unsigned jobs = 0;  // local executor; 0 until defaulted to the online CPUs
  std::string out_dir;
  bool fresh = false;
  std::string executor = "local";  // local | slurm
  SlurmOptions slurm;
  std::string emit_jobs;  // --emit-jobs FILE
  std::string collect;    // --collect DIR
  bool help = false;
};

// Throws UsageError for anything wrong, naming the option.
Options parse_options(int argc, char** argv);

}  // namespace mdevsim::sweep
