// libsystemc owns main(); benchmarks run from sc_main.
#include <benchmark/benchmark.h>
#include <systemc>

#include "mdevsim/models/common/quantum.h"
#include "mdevsim/sim/quiet_systemc.h"

int sc_main(int argc, char* argv[]) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  // The test (or benchmark) builds the simulation: it sets the loosely timed
  // quantum once, as the devices do not.
  mdevsim::models::set_default_quantum_if_unset();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
