// The option parsing every `mdevsim` command shares: walk the words after
// the command name, take an option's value, refuse an unknown option or a
// second positional argument. Every mistake is a UsageError, printed as
// "mdevsim COMMAND: message" with exit code 2 (run_command).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mdevsim::sim::cli {

// Bad input on the command line (or in what it names): exit code 2.
struct UsageError {
  std::string message;
};

class ArgReader {
 public:
  // argv[0] is the command; `see_help` ends the messages about a missing
  // value or an unknown option, e.g. " (see mdevsim run --help)".
  ArgReader(int argc, char** argv, std::string see_help);

  bool next();  // to the next word; false after the last
  const std::string& word() const { return word_; }
  bool is(std::string_view option) const { return word_ == option; }
  bool help() const { return word_ == "--help" || word_ == "-h"; }
  bool looks_like_option() const { return !word_.empty() && word_[0] == '-'; }
  // The word `ahead` places after this one, not consumed; nullptr past the end.
  const char* peek(int ahead = 1) const;
  // The word after this option ("--set" "x=1" -> "x=1"), consumed.
  std::string value();
  // Every word after this one (the command after "--"), consumed.
  std::vector<std::string> rest();
  // "unknown option 'W'" with `why` (default: see_help).
  [[noreturn]] void unknown(std::string_view why = {}) const;
  // The first positional word goes to `slot`; another one is refused with
  // both named ("only one SCENARIO may be given (got 'a' and 'b')").
  void positional(std::string& slot, std::string_view what = "SCENARIO") const;

 private:
  int argc_;
  char** argv_;
  int at_ = 0;
  std::string word_, see_help_;
};

// Runs a command's body; a UsageError becomes "mdevsim COMMAND: message" on
// stderr and exit code 2.
int run_command(std::string_view command, const std::function<int()>& body);

}  // namespace mdevsim::sim::cli
