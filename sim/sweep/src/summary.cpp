#include "mdevsim/sweep/summary.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

namespace mdevsim::sweep {

namespace {

void print_outcomes(const std::map<std::string, size_t>& outcomes, size_t broken) {
  std::cout << "outcomes  ";
  for (const char* known : {"completed", "cancelled", "failed"}) {
    const auto it = outcomes.find(known);
    std::cout << " " << (it == outcomes.end() ? 0 : it->second) << " " << known << ",";
  }
  for (const auto& [name, n] : outcomes)
    if (name != "completed" && name != "cancelled" && name != "failed" && name != "error")
      std::cout << " " << n << " " << name << ",";
  std::cout << " " << broken << " crashed or bad input\n";
}

}  // namespace

int summarize(const Plan& plan, const std::vector<ojson>& lines, const SummaryInput& in) {
  std::map<std::string, size_t> outcomes;
  size_t broken = 0;
  for (const auto& line : lines) {
    const auto& r = line["result"];
    ++outcomes[r.is_object() ? r.value("outcome", std::string("?")) : "error"];
    const int code = line.value("exit_code", -1);
    if (!r.is_object() || (code != 0 && code != 1)) ++broken;
  }
  const size_t points = plan.points(), recorded = lines.size();
  const std::filesystem::path dir = in.dir;
  std::cout << "sweep      " << in.name << ": " << points << " points (";
  for (size_t k = 0; k < plan.axes.size(); ++k)
    std::cout << (k ? " x " : "") << plan.axes[k].path << " " << plan.axes[k].values.size();
  std::cout << "), " << in.executor << "\n";
  std::cout << "ran        " << recorded - in.already_recorded << " now, " << in.already_recorded
            << " already recorded, " << points - recorded << " not run\n";
  print_outcomes(outcomes, broken);
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.1f s", in.wall_s);
  std::cout << "time       " << wall << "\n";
  std::cout << "files      " << (dir / "results.csv").string() << ", "
            << (dir / "results.jsonl").string() << ", " << (dir / "report.html").string() << "\n";
  if (broken > 0)
    std::cout << "note       " << broken
              << " point(s) have no result; see \"error\" in results.jsonl\n";
  for (const auto& t : in.troubles) std::cerr << "mdevsim sweep: " << t << "\n";
  if (in.stop_signal || recorded < points)
    std::cerr << "mdevsim sweep: " << (in.stop_signal ? "interrupted" : "incomplete") << " with "
              << recorded << " of " << points << " points recorded; to run the rest, run again:\n  "
              << in.rerun_command << "\n";
  if (in.stop_signal) return 128 + in.stop_signal;
  return broken > 0 || recorded < points ? 1 : 0;
}

}  // namespace mdevsim::sweep
