#include "mdevsim/sim/cli_options.h"

#include <iostream>
#include <utility>

namespace mdevsim::sim::cli {

ArgReader::ArgReader(int argc, char** argv, std::string see_help)
    : argc_(argc), argv_(argv), see_help_(std::move(see_help)) {}

bool ArgReader::next() {
  if (++at_ >= argc_) {
    at_ = argc_;
    word_.clear();
    return false;
  }
  word_ = argv_[at_];
  return true;
}

const char* ArgReader::peek(int ahead) const {
  return at_ + ahead < argc_ ? argv_[at_ + ahead] : nullptr;
}

std::string ArgReader::value() {
  if (at_ + 1 >= argc_) throw UsageError{word_ + " needs a value" + see_help_};
  return argv_[++at_];
}

std::vector<std::string> ArgReader::rest() {
  std::vector<std::string> words(argv_ + at_ + 1, argv_ + argc_);
  at_ = argc_;
  return words;
}

void ArgReader::unknown(std::string_view why) const {
  throw UsageError{"unknown option '" + word_ + "'" + std::string(why.empty() ? see_help_ : why)};
}

void ArgReader::positional(std::string& slot, std::string_view what) const {
  if (!slot.empty())
    throw UsageError{"only one " + std::string(what) + " may be given (got '" + slot + "' and '" +
                     word_ + "')"};
  slot = word_;
}

int run_command(std::string_view command, const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    std::cerr << "mdevsim " << command << ": " << e.message << "\n";
    return 2;
  }
}

}  // namespace mdevsim::sim::cli
