// Runs a script as a user would, for the tests of scripts/compare-qemu:
// exit code, stdout and stderr kept apart.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace mdevsim::testing {

struct ScriptRun {
  int exit_code = -1;
  std::string out, err;
};

// COMMAND as typed in a shell.
inline ScriptRun run_script(const std::string& command) {
  const std::string err_file =
      ::testing::TempDir() + "script.stderr." + std::to_string(getpid()) + ".txt";
  ScriptRun r;
  FILE* p = popen((command + " 2>" + err_file).c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  std::remove(err_file.c_str());
  return r;
}

inline std::string compare_qemu_script() {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scripts/compare-qemu";
}

}  // namespace mdevsim::testing
