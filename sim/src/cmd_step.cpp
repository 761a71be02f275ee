// mdevsim step — placeholder until the command lands; says so instead of pretending.
#include <iostream>

#include "mdevsim/sim/commands.h"

namespace mdevsim::sim {

int cmd_step(int, char**) {
  std::cerr << "mdevsim step: not implemented yet\n";
  return 2;
}

}  // namespace mdevsim::sim
