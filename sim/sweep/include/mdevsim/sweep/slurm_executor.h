// The Slurm executor: the points as one array job (sbatch), points_per_task
// points per array task so that short points do not pay the scheduler's
// per-job cost each, at most max_running tasks at once (the array's %N).
// The tasks run the staged scenario and write point files into the output
// directory, which must be on a filesystem the nodes share; this process
// waits, feeding the progress line from the point files as they appear.
// SIGINT/SIGTERM cancel the array (scancel). Points of a task that failed or
// was killed are reported with Slurm's state and the task's log.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mdevsim/sweep/executor.h"

namespace mdevsim::sweep {

struct SlurmOptions {
  size_t points_per_task = 20;
  unsigned max_running = 0;              // 0: no throttle
  std::vector<std::string> sbatch_args;  // --slurm-opt, split at spaces
};

class SlurmExecutor : public Executor {
 public:
  SlurmExecutor(const Plan& plan, SlurmOptions options, std::filesystem::path dir,
                std::string staged_scenario, std::string binary);
  std::string describe() const override;
  int run(const std::vector<size_t>& todo, Progress& progress, const RecordSink& sink) override;
  std::vector<std::string> troubles() const override { return troubles_; }

 private:
  std::string submit(const std::vector<size_t>& todo);
  // Task states from squeue ("J_3" → "RUNNING"); false when the job has left.
  bool poll_states();
  size_t collect(std::vector<size_t>& waiting, Progress& progress, const RecordSink& sink);
  void explain_missing(const std::vector<size_t>& todo, const std::vector<size_t>& waiting);
  std::string final_state(size_t task);

  const Plan& plan_;
  SlurmOptions options_;
  std::filesystem::path dir_, slurm_dir_;
  std::string scenario_, binary_, job_id_;
  size_t tasks_ = 0;
  std::map<size_t, std::string> states_;  // array task index → last state seen
  std::vector<std::string> troubles_;
};

}  // namespace mdevsim::sweep
