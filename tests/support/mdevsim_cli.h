// Runs the built mdevsim binary as a user would, for the tests that check
// the command line: exit code, stdout and stderr kept apart.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace mdevsim::testing {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// `mdevsim ARGS` (ARGS as typed in a shell: quote what the shell would eat).
inline CliRun run_cli(const std::string& args) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? info->name() : "none";
  std::replace(name.begin(), name.end(), '/', '_');  // parameterised names hold a '/'
  const std::string err_file =
      ::testing::TempDir() + "/stderr." + std::to_string(getpid()) + "." + name + ".txt";
  const std::string cmd = std::string(MDEVSIM_BINARY_DIR) + "/mdevsim " + args + " 2>" + err_file;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.code = WEXITSTATUS(pclose(p));
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::remove(err_file.c_str());
  return r;
}

inline std::string scenario_path(const std::string& name) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/" + name;
}

}  // namespace mdevsim::testing
