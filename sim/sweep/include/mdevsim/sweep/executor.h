// The executor seam: an executor runs points, each as one
// `mdevsim run SCENARIO --set ... --json FILE`, and hands every finished
// point's record to the sink as it finishes. The local executor forks them
// here; the Slurm executor runs them as an array job on a cluster.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "mdevsim/sweep/plan.h"

namespace mdevsim::sweep {

// The one-line progress on stderr (when it is a terminal):
// "[ 37/200] 18% 2 running, eta 12s".
class Progress {
 public:
  Progress(size_t total, size_t already_done);
  void finished_one();
  void draw(size_t running) const;
  void clear() const;
  double elapsed_s() const;

 private:
  bool enabled_;
  size_t total_, done_, done_now_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// The command of one point: this binary's `run` with the point's --set list,
// its result written to json_file.
std::vector<std::string> run_command(const std::string& binary, const std::string& scenario,
                                     const std::vector<std::string>& sets,
                                     const std::string& json_file);

// The path of the running mdevsim binary (what the points run).
std::string self_binary();

using RecordSink = std::function<void(const ojson& record)>;

class Executor {
 public:
  virtual ~Executor() = default;
  // For the summary: "2 jobs", "slurm job 17: 5 tasks of 10 points".
  virtual std::string describe() const = 0;
  // Runs the points in todo (none recorded yet), each record to sink. Returns
  // the signal (SIGINT, SIGTERM) that stopped the sweep, or 0.
  virtual int run(const std::vector<size_t>& todo, Progress& progress, const RecordSink& sink) = 0;
  // Why points of todo have no record, one line each (shown after the summary).
  virtual std::vector<std::string> troubles() const { return {}; }
};

}  // namespace mdevsim::sweep
