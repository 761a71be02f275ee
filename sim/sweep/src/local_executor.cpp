#include "mdevsim/sweep/local_executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mdevsim/sweep/store.h"

namespace mdevsim::sweep {

namespace {

// Signals arrive through sigtimedwait, never in the middle of a write. The
// children get the mask from before the sweep blocked them.
struct SignalGate {
  sigset_t waited, child_mask;
  SignalGate() {
    sigemptyset(&waited);
    for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&waited, s);
    sigprocmask(SIG_BLOCK, &waited, &child_mask);
  }
  ~SignalGate() { sigprocmask(SIG_SETMASK, &child_mask, nullptr); }
  // The next SIGINT/SIGTERM within timeout (0 if none; SIGCHLD only wakes).
  int take(timespec timeout) {
    for (int sig; (sig = sigtimedwait(&waited, nullptr, &timeout)) > 0; timeout = {0, 0})
      if (sig != SIGCHLD) return sig;
    return 0;
  }
};

SignalGate* gate = nullptr;  // the one of the running sweep

// fork + exec of this very binary as `mdevsim run`, stdout/stderr to files.
// The child dies with the parent, so a killed sweep leaves no orphans behind.
pid_t spawn_run(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
                const sigset_t& child_mask) {
  const int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = -1;
  if (in_fd >= 0 && out_fd >= 0 && err_fd >= 0) pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    sigprocmask(SIG_SETMASK, &child_mask, nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  for (int fd : {in_fd, out_fd, err_fd})
    if (fd >= 0) close(fd);
  return pid;
}

}  // namespace

struct LocalExecutor::Child {
  pid_t pid = -1;
  size_t point = 0;
  fs::path json, out, err;
};

std::string LocalExecutor::describe() const {
  return std::to_string(jobs_) + (jobs_ == 1 ? " job" : " jobs");
}

bool LocalExecutor::launch(size_t point, std::vector<Child>& running) {
  Child c;
  c.point = point;
  const std::string stem = "point-" + std::to_string(point);
  c.json = scratch_ / (stem + ".json");
  c.out = scratch_ / (stem + ".out");
  c.err = scratch_ / (stem + ".err");
  std::error_code ec;
  fs::remove(c.json, ec);
  const auto args =
      run_command("mdevsim", plan_.scenario_path, plan_.point_overrides(point), c.json.string());
  c.pid = spawn_run(args, c.out, c.err, gate->child_mask);
  if (c.pid < 0) {
    troubles_.push_back("cannot start point " + std::to_string(point) + ": " +
                        std::strerror(errno));
    return false;
  }
  running.push_back(c);
  return true;
}

// Collects the children that ended; true when any did.
bool LocalExecutor::reap(std::vector<Child>& running, Progress& progress, const RecordSink& sink) {
  bool reaped = false;
  int status = 0;
  for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
    const auto it =
        std::find_if(running.begin(), running.end(), [&](const Child& c) { return c.pid == pid; });
    if (it == running.end()) continue;
    const Child c = *it;
    running.erase(it);
    reaped = true;
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    // A child stopped by Ctrl-C or by us is not a result: it runs again on resume.
    if (!(sig && (stop_signal_ || sig == SIGINT || sig == SIGTERM))) {
      sink(make_record(plan_, c.point, sig ? 0 : WEXITSTATUS(status), sig, read_text(c.json),
                       read_text(c.err)));
      progress.finished_one();
    }
    std::error_code ec;
    for (const auto& f : {c.json, c.out, c.err}) fs::remove(f, ec);
  }
  return reaped;
}

int LocalExecutor::run(const std::vector<size_t>& todo, Progress& progress,
                       const RecordSink& sink) {
  std::error_code ec;
  fs::remove_all(scratch_, ec);  // leftovers of points a kill cut short
  fs::create_directories(scratch_, ec);
  if (ec) throw UsageError{"cannot create " + scratch_.string() + ": " + ec.message()};
  SignalGate signals;
  gate = &signals;
  std::vector<Child> running;
  size_t next = 0;
  bool launch_failed = false;
  std::chrono::steady_clock::time_point kill_deadline;
  // The first signal asks the children to stop; a second one, or 3 s, kills them.
  auto take_signals = [&](timespec timeout) {
    for (int sig; (sig = signals.take(timeout)) != 0; timeout = {0, 0}) {
      const bool again = stop_signal_ != 0;
      if (!again) {
        stop_signal_ = sig;
        kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      }
      for (const auto& c : running) kill(c.pid, again ? SIGKILL : SIGTERM);
    }
  };
  while (true) {
    take_signals({0, 0});
    while (!stop_signal_ && !launch_failed && running.size() < jobs_ && next < todo.size())
      launch_failed = !launch(todo[next++], running);
    if (running.empty()) break;
    if (reap(running, progress, sink)) continue;
    if (stop_signal_ && std::chrono::steady_clock::now() > kill_deadline)
      for (const auto& c : running) kill(c.pid, SIGKILL);
    progress.draw(running.size());
    take_signals({0, 200'000'000});
  }
  gate = nullptr;
  fs::remove(scratch_, ec);  // only when empty
  return stop_signal_;
}

}  // namespace mdevsim::sweep
