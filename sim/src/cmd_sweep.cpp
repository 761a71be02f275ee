// mdevsim sweep — placeholder until the command lands; says so instead of pretending.
#include <iostream>

#include "mdevsim/sim/commands.h"

namespace mdevsim::sim {

int cmd_sweep(int, char**) {
  std::cerr << "mdevsim sweep: not implemented yet\n";
  return 2;
}

}  // namespace mdevsim::sim
