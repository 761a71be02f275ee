// libFuzzer target: a scenario file's text into the loader, with --set
// overrides taken from its lines "//set PATH=VALUE" (comments to the JSON
// parser, so every bundled scenario is a seed as it is). The loader must
// accept, or refuse with an InputError; anything else is a bug.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "mdevsim/sim/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("//set ", 0) == 0) overrides.push_back(line.substr(6));
  try {
    // Relative trace and protocol files resolve beside the bundled scenarios.
    mdevsim::sim::load_scenario_text(text, MDEVSIM_SOURCE_DIR "/scenarios/fuzz.json", overrides);
  } catch (const mdevsim::sim::InputError&) {
  }
  return 0;
}

extern "C" int sc_main(int, char**) { return 0; }
