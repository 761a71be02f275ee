// `mdevsim run` through the built binary for the full-system tests
// (tests/sim/test_migration.cpp, test_faults.cpp): the result JSON parsed,
// or the human summary; and scenario files written for one test.
#pragma once

#include <unistd.h>

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

// A scenario file for the running test (named after it, in the test temp dir).
inline std::string write_scenario(const std::string& text) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string path = ::testing::TempDir() + "/" + info->test_suite_name() + "." +
                           std::to_string(getpid()) + "." + info->name() + ".json";
  std::ofstream(path) << text;
  return path;
}

}  // namespace mdevsim::testing
