// mdevsim fsm — placeholder until the command lands; says so instead of pretending.
#include <iostream>

#include "mdevsim/sim/commands.h"

namespace mdevsim::sim {

int cmd_fsm(int, char**) {
  std::cerr << "mdevsim fsm: not implemented yet\n";
  return 2;
}

}  // namespace mdevsim::sim
