// Commands that are not implemented yet say so instead of pretending.
#include <iostream>

#include "mdevsim/sim/commands.h"

namespace mdevsim::sim {

namespace {
int not_yet(const char* name) {
  std::cerr << "mdevsim " << name << ": not implemented yet\n";
  return 2;
}
}  // namespace

int cmd_run(int, char**) { return not_yet("run"); }
int cmd_sweep(int, char**) { return not_yet("sweep"); }
int cmd_step(int, char**) { return not_yet("step"); }
int cmd_fsm(int, char**) { return not_yet("fsm"); }

}  // namespace mdevsim::sim
