// The one thread that owns SystemC and the simulated host. SystemC is
// single-threaded; QEMU calls from its main loop, vCPU, migration and multifd
// threads, so every call is posted here and its caller waits for the answer.
// Between calls the thread advances simulated time with wall-clock time
// (times MDEVSIM_VFIO_TIME_RATIO), so the workload runs while QEMU does.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sim_host.h"

namespace mdevsim::vfio_host {

class SimThread {
 public:
  // Builds the host on the new thread; throws what its constructor threw
  // (sim::InputError for a bad scenario or variable).
  explicit SimThread(const HostConfig& config);
  ~SimThread();  // stop() if still running
  SimThread(const SimThread&) = delete;
  SimThread& operator=(const SimThread&) = delete;

  // Runs fn(host) on the simulation thread and returns when it is done.
  void run(const std::function<void(SimHost&)>& fn);
  // Queues fn(host) behind every task posted before it and returns at once
  // (false once the thread has ended). wake=false leaves it for the
  // thread's next tick (at most kTick later) instead of waking it now.
  bool post(std::function<void(SimHost&)> fn, bool wake = true);
  // Writes the final report and ends the thread (at exit).
  void stop();

 private:
  struct Task {
    std::function<void(SimHost&)> fn;
    bool done = false;
    bool detached = false;  // posted: nobody waits, the loop deletes it
  };
  void loop(const HostConfig& config);
  void advance();

  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<Task*> queue_;
  bool quit_ = false;
  bool ready_ = false;
  std::string init_error_;
  std::unique_ptr<SimHost> host_;
  std::chrono::steady_clock::time_point last_;
  double ratio_ = 1.0;
  std::thread thread_;
  std::thread::id id_;
};

}  // namespace mdevsim::vfio_host
