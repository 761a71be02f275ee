// The local executor: every point a child process of this one (fork + exec
// of this binary as `mdevsim run`), at most `jobs` at a time. SIGINT/SIGTERM
// start nothing new and stop the children (SIGTERM, then SIGKILL after 3 s
// or at a second signal); children die with the sweep if it is killed.
#pragma once

#include <filesystem>
#include <vector>

#include "mdevsim/sweep/executor.h"

namespace mdevsim::sweep {

class LocalExecutor : public Executor {
 public:
  // scratch: a directory for the points' files while they run.
  LocalExecutor(const Plan& plan, unsigned jobs, std::filesystem::path scratch)
      : plan_(plan), jobs_(jobs), scratch_(std::move(scratch)) {}
  std::string describe() const override;
  int run(const std::vector<size_t>& todo, Progress& progress, const RecordSink& sink) override;
  std::vector<std::string> troubles() const override { return troubles_; }

 private:
  struct Child;
  bool launch(size_t point, std::vector<Child>& running);
  bool reap(std::vector<Child>& running, Progress& progress, const RecordSink& sink);

  const Plan& plan_;
  unsigned jobs_;
  std::filesystem::path scratch_;
  int stop_signal_ = 0;
  std::vector<std::string> troubles_;
};

}  // namespace mdevsim::sweep
