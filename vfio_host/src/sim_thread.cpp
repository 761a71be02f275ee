#include "sim_thread.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <systemc>

namespace mdevsim::vfio_host {

namespace {
// How often simulated time catches up with the wall clock while no call
// comes, and the most it advances in one step (a simulator slower than real
// time loses the rest rather than starving QEMU's calls).
constexpr auto kTick = std::chrono::milliseconds(2);
constexpr double kMaxStepS = 0.05;
constexpr double kMinStepWallS = 0.001;
}  // namespace

SimThread::SimThread(const HostConfig& config) : ratio_(config.time_ratio) {
  thread_ = std::thread([this, config] { loop(config); });
  std::unique_lock lk(mu_);
  done_cv_.wait(lk, [&] { return ready_; });
  if (!host_) {
    lk.unlock();
    thread_.join();
    throw std::runtime_error(init_error_);
  }
}

SimThread::~SimThread() { stop(); }

void SimThread::loop(const HostConfig& config) {
  id_ = std::this_thread::get_id();
  try {
    auto host = std::make_unique<SimHost>(config);
    std::lock_guard lk(mu_);
    host_ = std::move(host);
  } catch (const std::exception& e) {
    std::lock_guard lk(mu_);
    init_error_ = e.what();
  }
  {
    std::lock_guard lk(mu_);
    ready_ = true;
    done_cv_.notify_all();
    if (!host_) return;
  }
  last_ = std::chrono::steady_clock::now();
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_for(lk, kTick, [&] { return quit_ || !queue_.empty(); });
    std::deque<Task*> batch;
    batch.swap(queue_);
    const bool quit = quit_;
    bool waited = false;
    lk.unlock();
    advance();
    for (Task* t : batch) {
      try {
        t->fn(*host_);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mdevsim-vfio-host: %s\n", e.what());
      }
      if (t->detached) {
        delete t;
        continue;
      }
      std::lock_guard g(mu_);
      t->done = true;
      waited = true;
    }
    if (waited) done_cv_.notify_all();
    if (quit) {
      host_->write_report();
      return;
    }
    lk.lock();
  }
}

void SimThread::advance() {
  const auto now = std::chrono::steady_clock::now();
  const double wall = std::chrono::duration<double>(now - last_).count();
  // Calls in quick succession share one simulated instant: an sc_start per
  // call would cost more than the call (QEMU 7.2 reads v1 data 8 bytes at a time).
  if (wall < kMinStepWallS) return;
  const double dt = std::min(wall * ratio_, kMaxStepS);
  last_ = now;
  sc_core::sc_start(sc_core::sc_time::from_seconds(dt));
}

void SimThread::run(const std::function<void(SimHost&)>& fn) {
  if (std::this_thread::get_id() == id_) {
    fn(*host_);
    return;
  }
  Task t{fn};
  std::unique_lock lk(mu_);
  if (quit_ || !host_) throw std::runtime_error("the simulation thread has ended");
  queue_.push_back(&t);
  cv_.notify_one();
  done_cv_.wait(lk, [&] { return t.done; });
}

bool SimThread::post(std::function<void(SimHost&)> fn, bool wake) {
  auto* t = new Task{std::move(fn), false, true};
  std::unique_lock lk(mu_);
  if (quit_ || !host_) {
    delete t;
    return false;
  }
  queue_.push_back(t);
  if (wake) cv_.notify_one();
  return true;
}

void SimThread::stop() {
  {
    std::lock_guard lk(mu_);
    if (quit_ || !thread_.joinable()) return;
    quit_ = true;
    cv_.notify_one();
  }
  if (std::this_thread::get_id() != id_) thread_.join();
}

}  // namespace mdevsim::vfio_host
