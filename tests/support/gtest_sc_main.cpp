// libsystemc defines main() and calls sc_main(); tests hand control to GoogleTest.
// gtest_discover_tests runs each test in its own process, so every test may
// elaborate and run its own SystemC model (the kernel cannot be restarted).
#include <gtest/gtest.h>
#include <systemc>

#include "mdevsim/models/common/quantum.h"
#include "mdevsim/sim/quiet_systemc.h"

int sc_main(int argc, char* argv[]) {
  // SystemC prints a banner on first use; keep test output clean.
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  // The test (or benchmark) builds the simulation: it sets the loosely timed
  // quantum once, as the devices do not.
  mdevsim::models::set_default_quantum_if_unset();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
