#include "mdevsim/sweep/plan.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "mdevsim/sim/scenario.h"

namespace mdevsim::sweep {

namespace fs = std::filesystem;

size_t point_count(const std::vector<Axis>& axes) {
  size_t n = axes.empty() ? 0 : 1;
  for (const auto& a : axes) n *= a.values.size();
  return n;
}

std::vector<size_t> coordinates(const std::vector<Axis>& axes, size_t index) {
  std::vector<size_t> c(axes.size());
  for (size_t k = axes.size(); k-- > 0;) {
    c[k] = index % axes[k].values.size();
    index /= axes[k].values.size();
  }
  return c;
}

size_t index_of(const std::vector<Axis>& axes, const std::vector<size_t>& coordinates) {
  size_t index = 0;
  for (size_t k = 0; k < axes.size(); ++k) index = index * axes[k].values.size() + coordinates[k];
  return index;
}

Axis parse_vary(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError{"--vary " + text +
                     ": expected PATH=V1,V2,..., e.g. --vary link.bandwidth=10Gbit/s,25Gbit/s"};
  Axis axis{text.substr(0, eq), {}};
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (char c : text.substr(eq + 1) + ",") {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '[' || c == '{')) ++depth;
    if (!quoted && (c == ']' || c == '}')) --depth;
    if (c == ',' && depth == 0 && !quoted) {
      if (current.empty())
        throw UsageError{"--vary " + text + ": empty value (two commas, or a comma at an end)"};
      if (std::find(axis.values.begin(), axis.values.end(), current) != axis.values.end())
        throw UsageError{"--vary " + axis.path + ": value '" + current + "' is listed twice"};
      axis.values.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return axis;
}

std::vector<std::string> Plan::point_overrides(size_t point) const {
  std::vector<std::string> sets = overrides;
  const auto c = coordinates(axes, point);
  for (size_t k = 0; k < axes.size(); ++k)
    sets.push_back(axes[k].path + "=" + axes[k].values[c[k]]);
  return sets;
}

ojson Plan::point_params(size_t point) const {
  ojson params = ojson::object();
  const auto c = coordinates(axes, point);
  for (size_t k = 0; k < axes.size(); ++k) params[axes[k].path] = axes[k].values[c[k]];
  return params;
}

namespace {

// The refusal of point p's scenario, naming the --vary value that caused it.
UsageError refusal(const Plan& plan, size_t p, const std::string& what) {
  // load_scenario names the --set that introduced the problem; say which --vary it is.
  const auto c = coordinates(plan.axes, p);
  for (size_t k = 0; k < plan.axes.size(); ++k) {
    const auto& axis = plan.axes[k];
    if (what.find("--set " + axis.path + "=" + axis.values[c[k]]) != std::string::npos)
      return {"--vary " + axis.path + ": value '" + axis.values[c[k]] + "' is refused (point " +
              std::to_string(p) + "): " + what};
  }
  std::string params;
  const ojson point = plan.point_params(p);  // items() must not outlive it
  for (const auto& [k, v] : point.items())
    params += (params.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
  return {p == 0 ? what : what + " (point " + std::to_string(p) + ": " + params + ")"};
}

// 64-bit FNV-1a of the scenario file, so a resume notices an edited scenario.
std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t h = 1469598103934665603ull;
  char c;
  while (in.get(c)) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// "--vary a=1,2 --vary b=x,y" as a definition's vary list reads on a command line.
std::string vary_text(const ojson& vary) {
  std::string text;
  for (const auto& axis : vary.is_array() ? vary : ojson::array()) {
    text += (text.empty() ? "--vary " : " --vary ") + axis.value("path", std::string("?")) + "=";
    std::string values;
    for (const auto& v : axis.value("values", ojson::array()))
      values.append(values.empty() ? "" : ",")
          .append(v.is_string() ? v.get<std::string>() : v.dump());
    text += values;
  }
  return text.size() > 160 ? text.substr(0, 157) + "..." : text;
}

}  // namespace

Validated validate_points(const Plan& plan) {
  Validated v;
  for (size_t p = 0; p < plan.points(); ++p) {
    try {
      const sim::Scenario s = sim::load_scenario(plan.scenario_path, plan.point_overrides(p));
      if (p == 0) v.name = s.name;
      v.downtime_limits_s.push_back(s.migration.downtime_limit_s);
    } catch (const sim::InputError& e) {
      throw refusal(plan, p, e.what());
    }
  }
  return v;
}

ojson definition_of(const Plan& plan) {
  ojson vary = ojson::array();
  for (const auto& a : plan.axes) vary.push_back({{"path", a.path}, {"values", a.values}});
  return {{"schema", "mdevsim.sweep/1"},
          {"scenario", fs::absolute(plan.scenario_path).lexically_normal().string()},
          {"scenario_content", file_fingerprint(plan.scenario_path)},
          {"set", plan.overrides},
          {"vary", vary}};
}

std::string definition_difference(const ojson& stored, const ojson& wanted) {
  if (!stored.is_object()) return "its sweep.json is missing or unreadable";
  std::vector<std::string> what;
  if (stored.value("scenario", "") != wanted["scenario"])
    what.push_back("scenario " + stored.value("scenario", std::string("?")) + ", not " +
                   wanted["scenario"].get<std::string>());
  else if (stored.value("scenario_content", "") != wanted["scenario_content"])
    what.push_back("the scenario file has changed since");
  if (stored.value("set", ojson::array()) != wanted["set"])
    what.push_back("--set " + stored.value("set", ojson::array()).dump() + ", not " +
                   wanted["set"].dump());
  if (stored.value("vary", ojson::array()) != wanted["vary"])
    what.push_back(vary_text(stored.value("vary", ojson::array())) + ", not " +
                   vary_text(wanted["vary"]));
  std::string text;
  for (const auto& w : what) text += (text.empty() ? "" : "; ") + w;
  return text.empty() ? "its sweep.json differs" : text;
}

}  // namespace mdevsim::sweep
