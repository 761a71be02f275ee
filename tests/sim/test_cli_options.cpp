// The shared option walker of the mdevsim commands (sim/src/cli_options.cpp):
// values, "--", unknown options and a second positional, each mistake a
// UsageError that run_command turns into "mdevsim CMD: ..." and exit code 2.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sim/cli_options.h"

namespace mdevsim::sim::cli {
namespace {

// argv as main() gets it, from literal words.
struct Argv {
  explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
    for (auto& s : words) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> words;
  std::vector<char*> ptrs;
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.message;
  }
  return "(no UsageError)";
}

TEST(CliOptions, WalksWordsAndTakesValues) {
  Argv a({"run", "--set", "x=1", "scenario.json", "--exact"});
  ArgReader r(a.argc(), a.argv(), " (see mdevsim run --help)");
  ASSERT_TRUE(r.next());
  EXPECT_TRUE(r.is("--set"));
  EXPECT_TRUE(r.looks_like_option());
  EXPECT_EQ(r.peek(), std::string("x=1"));
  EXPECT_EQ(r.peek(2), std::string("scenario.json"));
  EXPECT_EQ(r.value(), "x=1");
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.word(), "scenario.json") << "the value was consumed";
  EXPECT_FALSE(r.looks_like_option());
  std::string slot;
  r.positional(slot);
  EXPECT_EQ(slot, "scenario.json");
  ASSERT_TRUE(r.next());
  EXPECT_TRUE(r.is("--exact"));
  EXPECT_EQ(r.peek(), nullptr);
  EXPECT_FALSE(r.next());
  EXPECT_FALSE(r.next()) << "stays at the end";
}

TEST(CliOptions, MistakesAreNamed) {
  Argv a({"run", "a.json", "b.json", "--frobnicate", "--json"});
  ArgReader r(a.argc(), a.argv(), " (see mdevsim run --help)");
  std::string slot;
  r.next();
  r.positional(slot);
  r.next();
  EXPECT_EQ(message_of([&] { r.positional(slot); }),
            "only one SCENARIO may be given (got 'a.json' and 'b.json')");
  r.next();
  EXPECT_EQ(message_of([&] { r.unknown(); }),
            "unknown option '--frobnicate' (see mdevsim run --help)");
  EXPECT_EQ(message_of([&] { r.unknown(" (the QEMU command goes after --)"); }),
            "unknown option '--frobnicate' (the QEMU command goes after --)");
  r.next();
  EXPECT_EQ(message_of([&] { r.value(); }), "--json needs a value (see mdevsim run --help)");
}

TEST(CliOptions, RestTakesEverythingAfterTheSeparator) {
  Argv a({"qemu", "--keep", "--", "qemu-system-x86_64", "--help", "-m", "256M"});
  ArgReader r(a.argc(), a.argv(), "");
  r.next();
  r.next();
  ASSERT_TRUE(r.is("--"));
  EXPECT_EQ(r.rest(), (std::vector<std::string>{"qemu-system-x86_64", "--help", "-m", "256M"}));
  EXPECT_FALSE(r.next()) << "the command's own options are not ours";
}

TEST(CliOptions, RunCommandTurnsAUsageErrorIntoExitCode2) {
  ::testing::internal::CaptureStderr();
  const int code = run_command("sweep", []() -> int { throw UsageError{"nothing to vary"}; });
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_EQ(err, "mdevsim sweep: nothing to vary\n");
  EXPECT_EQ(run_command("sweep", [] { return 7; }), 7) << "the body's own code otherwise";
}

}  // namespace
}  // namespace mdevsim::sim::cli
