// Files for the tests that write outputs: a private directory per test
// process (ctest runs tests in parallel) and whole-file reads.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace mdevsim::testing {

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// /tmp/mdevsim-PREFIX-TEST-PID, removed at the end unless the environment
// variable `keep_env` is set (to look at the files after a failure).
class ScratchDir {
 public:
  ScratchDir(const std::string& prefix, const char* keep_env) : keep_env_(keep_env) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("mdevsim-" + prefix + "-" + std::string(info ? info->name() : "none") + "-" +
            std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDir() {
    if (std::getenv(keep_env_))
      std::fprintf(stderr, "test files kept in %s\n", dir_.c_str());
    else
      std::filesystem::remove_all(dir_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return dir_; }
  std::string operator/(const std::string& name) const { return (dir_ / name).string(); }

 private:
  const char* keep_env_;
  std::filesystem::path dir_;
};

}  // namespace mdevsim::testing
