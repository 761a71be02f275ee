// The scenario loader on text, for the loader's tests
// (tests/sim/test_scenario_*.cpp): the loaded scenario, or the error the
// user would see.
#pragma once

#include <string>
#include <vector>

#include "mdevsim/sim/scenario.h"

namespace mdevsim::testing {

// `text` loaded as if it were the file `file`, with `overrides` as --set.
inline sim::Scenario load_text(const std::string& file, const std::string& text,
                               const std::vector<std::string>& overrides = {}) {
  return sim::load_scenario_text(text, file, overrides);
}

// The loader's message for `text` ("" if it loaded).
inline std::string load_text_error(const std::string& file, const std::string& text,
                                   const std::vector<std::string>& overrides = {}) {
  try {
    load_text(file, text, overrides);
  } catch (const sim::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace mdevsim::testing
