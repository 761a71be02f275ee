#include "mdevsim/sweep/slurm_executor.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <set>
#include <sstream>

#include "mdevsim/sweep/job_list.h"
#include "mdevsim/sweep/store.h"

namespace mdevsim::sweep {

namespace {

struct Captured {
  int code = -1;
  std::string out;
};

// Runs a command (its words shell-quoted), stdout and stderr captured.
Captured capture(const std::vector<std::string>& words) {
  std::string cmd;
  for (const auto& w : words) cmd.append(cmd.empty() ? "" : " ").append(shell_quote(w));
  Captured c;
  FILE* p = popen((cmd + " 2>&1 </dev/null").c_str(), "r");
  if (!p) return c;
  std::array<char, 4096> buf{};
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) c.out.append(buf.data(), n);
  const int status = pclose(p);
  c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One array task: runs its slice of the job list, one point after another.
constexpr const char* kTaskScript = R"(#!/bin/bash
# One array task of an mdevsim sweep (written by mdevsim sweep --executor slurm):
# runs lines FIRST..LAST of the job list, FIRST = task * PER_TASK + 1.
list=$1
per_task=$2
first=$(( SLURM_ARRAY_TASK_ID * per_task + 1 ))
last=$(( first + per_task - 1 ))
while IFS= read -r cmd; do
  bash -c "$cmd"
done < <(sed -n "${first},${last}p" "$list")
)";

// Task states in which the array is not done yet.
bool active(const std::string& state) {
  static const std::set<std::string> kActive = {
      "PENDING",  "RUNNING",     "CONFIGURING",  "COMPLETING", "SUSPENDED", "REQUEUED",
      "RESIZING", "REQUEUE_FED", "REQUEUE_HOLD", "SIGNALING",  "STAGE_OUT"};
  return kActive.count(state) != 0;
}

}  // namespace

SlurmExecutor::SlurmExecutor(const Plan& plan, SlurmOptions options, fs::path dir,
                             std::string staged_scenario, std::string binary)
    : plan_(plan),
      options_(std::move(options)),
      dir_(fs::absolute(dir)),
      slurm_dir_(dir_ / "slurm"),
      scenario_(std::move(staged_scenario)),
      binary_(std::move(binary)) {}

std::string SlurmExecutor::describe() const {
  if (job_id_.empty()) return "slurm";
  return "slurm job " + job_id_ + ": " + std::to_string(tasks_) + " tasks of up to " +
         std::to_string(options_.points_per_task) + " points";
}

// Writes the job list and the task script, submits the array; its job id.
std::string SlurmExecutor::submit(const std::vector<size_t>& todo) {
  std::error_code ec;
  fs::create_directories(slurm_dir_, ec);
  fs::create_directories(dir_ / "points", ec);
  if (ec) throw UsageError{"cannot create " + slurm_dir_.string() + ": " + ec.message()};
  std::vector<std::string> commands;
  for (size_t p : todo) {
    const PointFiles f = point_files(dir_ / "points", p);
    for (const auto& stale : {f.json, f.err, f.exit}) fs::remove(stale, ec);
    commands.push_back(point_command(plan_, binary_, scenario_, dir_ / "points", p));
  }
  const fs::path list = slurm_dir_ / "points.txt", script = slurm_dir_ / "task.sh";
  write_job_list(list, commands);
  write_atomically(script, kTaskScript);
  fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  const size_t per = options_.points_per_task;
  tasks_ = (todo.size() + per - 1) / per;
  std::string array = "--array=0-" + std::to_string(tasks_ - 1);
  if (options_.max_running > 0) array.append("%").append(std::to_string(options_.max_running));
  std::vector<std::string> words = {"sbatch", "--parsable", "--job-name=mdevsim-sweep", array,
                                    "--output=" + (slurm_dir_ / "%A_%a.log").string()};
  words.insert(words.end(), options_.sbatch_args.begin(), options_.sbatch_args.end());
  words.insert(words.end(), {script.string(), list.string(), std::to_string(per)});
  const Captured c = capture(words);
  const std::string id = trimmed(c.out).substr(0, trimmed(c.out).find(';'));
  if (c.code != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError{"sbatch refused the array job" +
                     (c.code == 127 ? std::string(" (sbatch not found: is Slurm installed?)")
                                    : ": " + trimmed(c.out))};
  write_atomically(slurm_dir_ / "job", id + "\n");
  return id;
}

bool SlurmExecutor::poll_states() {
  const Captured c = capture({"squeue", "-h", "-r", "-j", job_id_, "--states=all", "-o", "%i|%T"});
  if (c.code != 0) return false;  // the job is no longer known
  bool any_active = false;
  std::istringstream in(c.out);
  for (std::string line; std::getline(in, line);) {
    const auto bar = line.find('|'), under = line.find('_');
    if (bar == std::string::npos || under == std::string::npos || under > bar) continue;
    try {
      const size_t task = std::stoul(line.substr(under + 1, bar - under - 1));
      states_[task] = line.substr(bar + 1);
      any_active = any_active || active(states_[task]);
    } catch (const std::exception&) {
      any_active = true;  // "J_[3-9%2]": tasks not started yet
    }
  }
  return any_active;
}

// Records the points of `waiting` whose files have appeared; removes them.
size_t SlurmExecutor::collect(std::vector<size_t>& waiting, Progress& progress,
                              const RecordSink& sink) {
  size_t n = 0;
  std::vector<size_t> still;
  for (size_t p : waiting) {
    if (auto record = read_point_files(plan_, dir_ / "points", p)) {
      sink(*record);
      progress.finished_one();
      ++n;
    } else {
      still.push_back(p);
    }
  }
  waiting.swap(still);
  return n;
}

// Slurm's word for how a task ended: sacct when accounting runs, else the
// last state squeue showed.
std::string SlurmExecutor::final_state(size_t task) {
  const std::string id = job_id_ + "_" + std::to_string(task);
  const Captured c = capture({"sacct", "-n", "-P", "-X", "-j", id, "-o", "State"});
  const std::string state = trimmed(c.out);
  if (c.code == 0 && !state.empty() && state.find('\n') == std::string::npos) return state;
  const auto it = states_.find(task);
  return it != states_.end() ? it->second : "UNKNOWN";
}

void SlurmExecutor::explain_missing(const std::vector<size_t>& todo,
                                    const std::vector<size_t>& waiting) {
  std::map<size_t, std::vector<size_t>> by_task;
  for (size_t p : waiting) {
    const size_t position = std::lower_bound(todo.begin(), todo.end(), p) - todo.begin();
    by_task[position / options_.points_per_task].push_back(p);
  }
  for (const auto& [task, points] : by_task) {
    std::string list;
    for (size_t p : points) list.append(list.empty() ? "" : ",").append(std::to_string(p));
    troubles_.push_back("array task " + job_id_ + "_" + std::to_string(task) + " ended " +
                        final_state(task) + " without point(s) " + list + "; its log: " +
                        (slurm_dir_ / (job_id_ + "_" + std::to_string(task) + ".log")).string());
  }
}

int SlurmExecutor::run(const std::vector<size_t>& todo, Progress& progress,
                       const RecordSink& sink) {
  if (todo.empty()) return 0;
  job_id_ = submit(todo);
  // From here on Ctrl-C and SIGTERM are taken by sigtimedwait: they cancel the array.
  sigset_t waited, old_mask;
  sigemptyset(&waited);
  for (int s : {SIGINT, SIGTERM}) sigaddset(&waited, s);
  sigprocmask(SIG_BLOCK, &waited, &old_mask);
  std::vector<size_t> waiting = todo;
  int stop_signal = 0;
  auto last_poll = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  bool running = true;
  while (running && !waiting.empty()) {
    timespec timeout{0, 250'000'000};
    const int sig = sigtimedwait(&waited, nullptr, &timeout);
    if (sig > 0 && !stop_signal) {
      stop_signal = sig;
      capture({"scancel", job_id_});
    }
    collect(waiting, progress, sink);
    if (std::chrono::steady_clock::now() - last_poll > std::chrono::milliseconds(1000)) {
      last_poll = std::chrono::steady_clock::now();
      running = poll_states();
    }
    size_t n_running = 0;
    for (const auto& [task, state] : states_) n_running += state == "RUNNING";
    progress.draw(n_running);
  }
  collect(waiting, progress, sink);  // files written as the last tasks ended
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (!waiting.empty()) explain_missing(todo, waiting);
  return stop_signal;
}

}  // namespace mdevsim::sweep
