// mdevsim: one executable, one subcommand per use (see `mdevsim --help`).
#include <cstring>
#include <iostream>
#include <string_view>

#include <systemc>

#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/quiet_systemc.h"

namespace {

constexpr const char* kUsage =
    R"(mdevsim - full-system simulator of a migratable GPU-like VFIO mediated device

Usage:
  mdevsim run SCENARIO [--set PATH=VALUE]... [--json FILE|-] [--trace FILE]
              [--timeline FILE] [--vcd FILE] [--report FILE]
      Run one scenario (a live migration of a VM with the device) and print a summary.
  mdevsim sweep SCENARIO --vary PATH=V1,V2,... [--vary ...] [--jobs N] [--out DIR]
                [--set PATH=VALUE]... [--fresh] [--executor local|slurm]
                [--emit-jobs FILE] [--collect DIR]
      Run the cross product of parameter values, one process per point, here or
      on a Slurm cluster; writes results.csv, results.jsonl and report.html, and
      resumes when run again.
  mdevsim step [--protocol v1|v2|FILE] [--features LIST] [--json] [--echo]
      Drive a source and a destination device by hand through the VFIO ABI,
      one command per line on stdin; each effect is explained.
  mdevsim fsm PROTOCOL [--features LIST] [--table] [--path FROM TO] [--dot] [--json]
      Print a migration protocol's state machine, next-step table or paths.
  mdevsim qemu-migrate SCENARIO [--qemu 7.2|10.0|PATH] [--uri tcp|unix|file] [--json FILE|-]
      Live-migrate the simulated device between two real QEMUs (docs/qemu.md).
  mdevsim qemu [--scenario FILE] [--trace FILE] -- QEMU_COMMAND...
      Run your own QEMU with the simulated device interposed (docs/qemu.md).

Each command takes --help. Exit codes: 0 success; 1 the migration failed or
verification found a difference; 2 bad input (scenario, option, command).
)";

}  // namespace

int sc_main(int argc, char* argv[]) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  // SystemC's own informational reports (e.g. at sc_stop) are noise here.
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  const std::string_view cmd = argv[1];
  if (cmd == "--version") {
    std::cout << "mdevsim 0.1.0\n";
    return 0;
  }
  // Subcommands see argv starting at their own name.
  if (cmd == "run") return mdevsim::sim::cmd_run(argc - 1, argv + 1);
  if (cmd == "sweep") return mdevsim::sim::cmd_sweep(argc - 1, argv + 1);
  if (cmd == "step") return mdevsim::sim::cmd_step(argc - 1, argv + 1);
  if (cmd == "fsm") return mdevsim::sim::cmd_fsm(argc - 1, argv + 1);
  if (cmd == "qemu") return mdevsim::sim::cmd_qemu(argc - 1, argv + 1);
  if (cmd == "qemu-migrate") return mdevsim::sim::cmd_qemu_migrate(argc - 1, argv + 1);
  std::cerr << "mdevsim: unknown command '" << cmd << "' (try mdevsim --help)\n";
  return 2;
}
