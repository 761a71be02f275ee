// mdevsim run — placeholder until the command lands; says so instead of pretending.
#include <iostream>

#include "mdevsim/sim/commands.h"

namespace mdevsim::sim {

int cmd_run(int, char**) {
  std::cerr << "mdevsim run: not implemented yet\n";
  return 2;
}

}  // namespace mdevsim::sim
