// `mdevsim run` through the built binary for the full-system tests
// (tests/sim/test_migration.cpp, test_faults.cpp): the result JSON parsed,
// or the human summary; and scenario files written for one test (also for
// the scenario loader's tests, tests/sim/test_scenario*.cpp).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace mdevsim::testing {

struct SimRun {
  int code = -1;
  nlohmann::json result;  // --json - (null on bad input, exit 2)
  std::string out;        // stdout; with the summary (json_out false), then stderr
};

// `mdevsim run SCENARIO --json - EXTRA`, or without --json (json_out false)
// for the human summary.
inline SimRun run_scenario(const std::string& scenario, const std::string& extra = "",
                           bool json_out = true) {
  const CliRun r = run_cli("run " + scenario + (json_out ? " --json - " : " ") + extra);
  SimRun s;
  s.code = r.code;
  s.out = json_out ? r.out : r.out + r.err;
  if (json_out && r.code != 2 && !r.out.empty()) s.result = nlohmann::json::parse(r.out);
  return s;
}

// Where the running test's scenario file goes: in the test temp dir, named
// after the test (and `tag`, for a test that writes several), so that tests
// running at once never share one.
inline std::string test_scenario_path(const std::string& tag = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string suite = info ? info->test_suite_name() : "none", name = info ? info->name() : "none";
  // Parameterised suites and tests have a '/' in their names ("Keys/Errors", "Case/0").
  std::replace(suite.begin(), suite.end(), '/', '_');
  std::replace(name.begin(), name.end(), '/', '_');
  return ::testing::TempDir() + "/" + suite + "." + std::to_string(getpid()) + "." + name +
         (tag.empty() ? "" : "." + tag) + ".json";
}

// A scenario file for the running test holding `text`; its path.
inline std::string write_named_scenario(const std::string& tag, const std::string& text) {
  const std::string path = test_scenario_path(tag);
  std::ofstream(path) << text;
  return path;
}
inline std::string write_scenario(const std::string& text) {
  return write_named_scenario("", text);
}

}  // namespace mdevsim::testing
