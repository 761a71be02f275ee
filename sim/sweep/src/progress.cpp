#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "mdevsim/sweep/executor.h"

namespace mdevsim::sweep {

namespace {

std::string format_eta(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) / 60 % 60);
  return buf;
}

}  // namespace

Progress::Progress(size_t total, size_t already_done)
    : enabled_(isatty(2)),
      total_(total),
      done_(already_done),
      start_(std::chrono::steady_clock::now()) {}

void Progress::finished_one() {
  ++done_;
  ++done_now_;
}

void Progress::draw(size_t running) const {
  if (!enabled_) return;
  const size_t width = std::to_string(total_).size();
  std::string eta = "?";
  if (done_now_ > 0) eta = format_eta(elapsed_s() / done_now_ * (total_ - done_));
  std::fprintf(stderr, "\r[%*zu/%zu] %3zu%% %zu running, eta %s\033[K", static_cast<int>(width),
               done_, total_, total_ ? done_ * 100 / total_ : 100, running, eta.c_str());
  std::fflush(stderr);
}

void Progress::clear() const {
  if (enabled_) std::fprintf(stderr, "\r\033[K");
}

double Progress::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::vector<std::string> run_command(const std::string& binary, const std::string& scenario,
                                     const std::vector<std::string>& sets,
                                     const std::string& json_file) {
  std::vector<std::string> args = {binary, "run", scenario};
  for (const auto& set : sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  args.push_back("--json");
  args.push_back(json_file);
  return args;
}

std::string self_binary() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("mdevsim") : p.string();
}

}  // namespace mdevsim::sweep
