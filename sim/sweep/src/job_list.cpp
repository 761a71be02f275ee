#include "mdevsim/sweep/job_list.h"

#include <set>

#include "mdevsim/sweep/executor.h"
#include "mdevsim/sweep/store.h"

namespace mdevsim::sweep {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=,:@+%") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

namespace {

// Every string value under a key named protocol or trace_file.
void collect_references(const ojson& node, const std::string& key, std::set<std::string>& out) {
  if (node.is_string() && (key == "protocol" || key == "trace_file"))
    out.insert(node.get<std::string>());
  if (node.is_object())
    for (const auto& [k, v] : node.items()) collect_references(v, k, out);
  if (node.is_array())
    for (const auto& v : node) collect_references(v, key, out);
}

// The --set/--vary values of file-valued paths (…protocol=, …trace_file=).
void collect_override_references(const Plan& plan, std::set<std::string>& out) {
  std::vector<std::string> sets = plan.overrides;
  for (size_t p = 0; p < plan.points(); ++p)
    for (const auto& s : plan.point_overrides(p)) sets.push_back(s);
  for (const auto& set : sets) {
    const auto eq = set.find('=');
    const std::string path = set.substr(0, eq);
    if (eq != std::string::npos && (path.ends_with("protocol") || path.ends_with("trace_file")))
      out.insert(set.substr(eq + 1));
  }
}

void copy_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec)
    throw UsageError{"cannot stage " + from.string() + " in " + to.string() + ": " + ec.message()};
}

}  // namespace

std::string stage_scenario(const Plan& plan, const fs::path& dir) {
  const fs::path scenario = plan.scenario_path, base = scenario.parent_path();
  const fs::path staged = fs::absolute(dir / "staged");
  const fs::path target = staged / scenario.filename();
  copy_into(scenario, target);
  std::set<std::string> refs;
  collect_references(ojson::parse(read_text(scenario), nullptr, false, /*ignore_comments=*/true),
                     "", refs);
  collect_override_references(plan, refs);
  for (const auto& ref : refs) {
    const fs::path r = ref;
    // Named protocols (v2, v2-postcopy) and absolute or escaping paths stay.
    const bool inside = r.is_relative() && !r.empty() && *r.begin() != "..";
    if (inside && fs::is_regular_file(base / r)) copy_into(base / r, staged / r);
  }
  return target.string();
}

std::string point_command(const Plan& plan, const std::string& binary, const std::string& scenario,
                          const fs::path& points_dir, size_t point) {
  const PointFiles f = point_files(fs::absolute(points_dir), point);
  std::string cmd;
  for (const auto& a : run_command(binary, scenario, plan.point_overrides(point), f.json.string()))
    cmd.append(cmd.empty() ? "" : " ").append(shell_quote(a));
  const std::string tmp = shell_quote(f.exit.string() + ".tmp");
  return cmd + " </dev/null >/dev/null 2>" + shell_quote(f.err.string()) + "; echo $? >" + tmp +
         " && mv " + tmp + " " + shell_quote(f.exit.string());
}

void write_job_list(const fs::path& file, const std::vector<std::string>& commands) {
  std::string text;
  for (const auto& c : commands) text += c + "\n";
  write_atomically(file, text);
}

}  // namespace mdevsim::sweep
