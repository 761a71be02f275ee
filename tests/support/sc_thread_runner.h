// Runs a test body as a SystemC thread (SC_THREAD), so it may wait() on
// simulated time; construct it before sc_start().
#pragma once

#include <functional>
#include <utility>

#include <systemc>

namespace mdevsim::testing {

struct ThreadRunner : sc_core::sc_module {
  SC_HAS_PROCESS(ThreadRunner);
  ThreadRunner(sc_core::sc_module_name n, std::function<void()> f)
      : sc_core::sc_module(n), body(std::move(f)) {
    SC_THREAD(run);
  }
  void run() { body(); }
  std::function<void()> body;
};

}  // namespace mdevsim::testing
