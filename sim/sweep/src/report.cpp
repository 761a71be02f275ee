#include "mdevsim/sweep/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "mdevsim/sim/units.h"

namespace mdevsim::sweep {

using sim::format_bytes;
using sim::format_duration;

namespace {

const ojson* result_of(const ojson& line) {
  const auto it = line.find("result");
  return it != line.end() && it->is_object() ? &*it : nullptr;
}

// A field of the result, or null when the point has no result.
ojson field(const ojson& line, std::initializer_list<const char*> keys) {
  const ojson* node = result_of(line);
  for (const char* k : keys) {
    if (!node || !node->is_object() || !node->contains(k)) return nullptr;
    node = &(*node)[k];
  }
  return node ? *node : ojson(nullptr);
}

std::optional<double> number(const ojson& line, std::initializer_list<const char*> keys) {
  const ojson v = field(line, keys);
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

std::string outcome_of(const ojson& line) {
  const ojson v = field(line, {"outcome"});
  return v.is_string() ? v.get<std::string>() : "error";
}

// Why a point did not complete: the result's reason, or how the run ended.
std::string reason_of(const ojson& line) {
  if (result_of(line)) {
    const ojson v = field(line, {"reason"});
    return v.is_string() ? v.get<std::string>() : "";
  }
  std::string why = "exit code " + std::to_string(line.value("exit_code", -1));
  if (line.contains("error") && line["error"].is_string()) {
    // The last non-empty line of stderr says the most.
    std::string err = line["error"].get<std::string>();
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    const auto nl = err.rfind('\n');
    const std::string last = nl == std::string::npos ? err : err.substr(nl + 1);
    if (!last.empty()) why += ": " + last;
  }
  return why;
}

std::string param_of(const ojson& line, const std::string& path) {
  const auto it = line.find("params");
  if (it == line.end() || !it->contains(path)) return "";
  const ojson& v = (*it)[path];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string json_scalar(const ojson& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Unit {
  double scale;
  const char* name;
};
const std::vector<Unit> kSeconds = {{1e-6, "us"}, {1e-3, "ms"}, {1, "s"}};
const std::vector<Unit> kBytes = {
    {1, "B"}, {1024.0, "KiB"}, {1048576.0, "MiB"}, {1073741824.0, "GiB"}, {1099511627776.0, "TiB"}};

struct Metric {
  const char* title;
  std::function<std::optional<double>(const ojson&)> value;
  std::function<std::string(double)> format;  // tooltips and the table
  const std::vector<Unit>* units;             // y axis
};

const std::vector<Metric>& metrics() {
  static const std::vector<Metric> m = {
      {"downtime", [](const ojson& l) { return number(l, {"downtime_s"}); }, format_duration,
       &kSeconds},
      {"total time", [](const ojson& l) { return number(l, {"total_time_s"}); }, format_duration,
       &kSeconds},
      {"bytes sent",
       [](const ojson& l) {
         return number(l, {"bytes", "total"});
       },
       format_bytes, &kBytes},
  };
  return m;
}

// Tableau 10: distinguishable, and readable when printed in grey.
constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kMaxSeries = std::size(kColors);

// A round upper bound for the y axis, close enough to the data to use the height.
double nice_ceiling(double v) {
  if (!(v > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (v <= m * p * (1 + 1e-12)) return m * p;
  return 10 * p;
}

// The largest unit the maximum reaches, so ticks read "1.5 GiB", not "1610612736".
Unit axis_unit(const std::vector<Unit>& units, double max_v) {
  Unit u = units.front();
  for (const auto& candidate : units)
    if (max_v >= candidate.scale) u = candidate;
  return u;
}

std::string tick_label(double v, const Unit& u) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g %s", v / u.scale, u.name);
  return buf;
}

struct Series {
  std::string label;
  std::vector<size_t> indices;       // point index per value of the charted axis
  std::vector<const ojson*> points;  // per value of the charted axis; null: not run
};

// Downtime means something only when the VM switched over: a cancelled or
// failed migration's downtime_s is 0, not a measurement.
bool switched_over(const ojson& line) {
  const std::string o = outcome_of(line);
  return o == "completed" || o == "vm_lost";
}

struct Plot {
  double W = 340, H = 220, left = 64, right = 30, top = 24, bottom = 46;
  double y_max = 1;
  size_t n = 1;
  double plot_w() const { return W - left - right; }
  double x_at(size_t i) const {
    return n == 1 ? left + plot_w() / 2 : left + plot_w() * i / (n - 1);
  }
  double y_at(double v) const { return top + (H - top - bottom) * (1 - v / y_max); }
};

// Title, horizontal grid with y ticks, x labels and the axis name.
void draw_frame(std::ostringstream& svg, const Plot& plot, const Unit& unit, const char* title,
                const Axis& axis, bool with_limit) {
  svg << "<text x=\"" << plot.left << "\" y=\"15\" class=\"ct\">" << title
      << (with_limit ? " <tspan class=\"lim\">(dashed: downtime limit)</tspan>" : "")
      << "</text>\n";
  for (int t = 0; t <= 4; ++t) {
    const double v = plot.y_max * t / 4, y = plot.y_at(v);
    svg << "<line x1=\"" << plot.left << "\" x2=\"" << plot.W - plot.right << "\" y1=\"" << fixed(y)
        << "\" y2=\"" << fixed(y) << "\" class=\"grid\"/>"
        << "<text x=\"" << plot.left - 5 << "\" y=\"" << fixed(y + 4) << "\" class=\"yl\">"
        << tick_label(v, unit) << "</text>\n";
  }
  // Label every k-th value so neighbouring labels never overlap (~6 px a
  // character), always including the last one.
  size_t longest = 1;
  for (const auto& v : axis.values) longest = std::max(longest, v.size());
  const double spacing = plot.n > 1 ? plot.plot_w() / (plot.n - 1) : plot.plot_w();
  const size_t every =
      std::max<size_t>(1, static_cast<size_t>(std::ceil((longest * 6.0 + 8) / spacing)));
  for (size_t i = 0; i < plot.n; ++i) {
    const bool last = i + 1 == plot.n;
    if (!last && (i % every != 0 || plot.n - 1 - i < every)) continue;
    svg << "<text x=\"" << fixed(plot.x_at(i)) << "\" y=\"" << plot.H - plot.bottom + 16
        << "\" class=\"xl\">" << html_escape(axis.values[i]) << "</text>\n";
  }
  svg << "<text x=\"" << plot.left + plot.plot_w() / 2 << "\" y=\"" << plot.H - 8
      << "\" class=\"xt\">" << html_escape(axis.path) << "</text>\n";
}

// A polyline through the given values; it breaks where a value is missing.
void draw_line(std::ostringstream& svg, const Plot& plot,
               const std::vector<std::optional<double>>& values, const char* color,
               const char* extra) {
  std::string path;
  bool pen_down = false;
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i]) {
      pen_down = false;
      continue;
    }
    path += (pen_down ? " L" : " M") + fixed(plot.x_at(i)) + ' ' + fixed(plot.y_at(*values[i]));
    pen_down = true;
  }
  if (!path.empty())
    svg << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << color << "\" " << extra
        << "/>\n";
}

void draw_markers(std::ostringstream& svg, const Plot& plot, const Metric& metric, const Axis& axis,
                  const Series& s, const char* color, bool downtime) {
  for (size_t i = 0; i < plot.n; ++i) {
    const ojson* p = s.points[i];
    if (!p) continue;
    const std::string outcome = outcome_of(*p);
    const std::string where =
        html_escape(s.label.empty() ? axis.path + "=" + axis.values[i]
                                    : s.label + ", " + axis.path + "=" + axis.values[i]);
    const auto v = metric.value(*p);
    if (downtime && !switched_over(*p)) {
      // No switchover, no downtime: a cross on the baseline, outside the line.
      const double x = plot.x_at(i), y = plot.y_at(0);
      svg << "<path d=\"M" << fixed(x - 4) << ' ' << fixed(y - 4) << " L" << fixed(x + 4) << ' '
          << fixed(y + 4) << " M" << fixed(x - 4) << ' ' << fixed(y + 4) << " L" << fixed(x + 4)
          << ' ' << fixed(y - 4) << "\" stroke=\"" << color
          << "\" stroke-width=\"1.5\" class=\"nodt\"><title>point " << p->value("point", 0) << ": "
          << where << " → no downtime (" << html_escape(outcome) << ")</title></path>\n";
      continue;
    }
    if (!v) continue;
    // Hollow markers for points that did not complete (cancelled, failed).
    const bool completed = outcome == "completed";
    svg << "<circle cx=\"" << fixed(plot.x_at(i)) << "\" cy=\"" << fixed(plot.y_at(*v))
        << "\" r=\"3.5\" stroke=\"" << color << "\" fill=\"" << (completed ? color : "white")
        << "\" stroke-width=\"1.5\"><title>point " << p->value("point", 0) << ": " << where << " → "
        << html_escape(metric.format(*v)) << " (" << html_escape(outcome) << ")</title></circle>\n";
  }
}

// The metric's value of each point of a series (downtime only where the VM
// switched over), and the downtime limit of each point when drawn.
std::vector<std::optional<double>> series_values(const Metric& metric, const Series& s,
                                                 bool downtime) {
  std::vector<std::optional<double>> values;
  for (const ojson* p : s.points)
    values.push_back(p && (!downtime || switched_over(*p)) ? metric.value(*p) : std::nullopt);
  return values;
}

std::vector<std::optional<double>> series_limits(const Series& s,
                                                 const std::vector<double>& limits) {
  std::vector<std::optional<double>> values;
  for (size_t index : s.indices)
    values.push_back(index < limits.size() ? std::optional<double>(limits[index]) : std::nullopt);
  return values;
}

std::string chart_svg(const Metric& metric, const Axis& axis, const std::vector<Series>& series,
                      const std::vector<double>& limits) {
  const bool downtime = std::string(metric.title) == "downtime";
  const bool with_limit = downtime && !limits.empty();
  Plot plot;
  plot.n = axis.values.size();
  double max_v = 0;
  for (const auto& s : series) {
    for (const auto& v : series_values(metric, s, downtime))
      if (v) max_v = std::max(max_v, *v);
    if (with_limit)
      for (const auto& v : series_limits(s, limits))
        if (v) max_v = std::max(max_v, *v);
  }
  const Unit unit = axis_unit(*metric.units, max_v);
  plot.y_max = nice_ceiling(max_v / unit.scale) * unit.scale;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << plot.W << "\" height=\"" << plot.H
      << "\" viewBox=\"0 0 " << plot.W << ' ' << plot.H << "\" role=\"img\">\n";
  draw_frame(svg, plot, unit, metric.title, axis, with_limit);
  // One grey limit when every point has the same, else one per line in its colour.
  const bool one_limit = with_limit && std::adjacent_find(limits.begin(), limits.end(),
                                                          std::not_equal_to<>()) == limits.end();
  if (one_limit)
    draw_line(svg, plot, std::vector<std::optional<double>>(plot.n, limits.front()), "#888",
              "stroke-width=\"1.2\" stroke-dasharray=\"5 3\" class=\"limit\"");
  for (size_t s = 0; s < series.size(); ++s) {
    const char* color = kColors[s % kMaxSeries];
    if (with_limit && !one_limit)
      draw_line(svg, plot, series_limits(series[s], limits), color,
                "stroke-width=\"1.2\" stroke-dasharray=\"5 3\" class=\"limit\"");
    draw_line(svg, plot, series_values(metric, series[s], downtime), color, "stroke-width=\"1.8\"");
    draw_markers(svg, plot, metric, axis, series[s], color, downtime);
  }
  svg << "</svg>\n";
  return svg.str();
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
svg { background: #fcfcfc; border: 1px solid #e3e3e3; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .ct { font-weight: 600; font-size: 12px; }
svg .yl { text-anchor: end; } svg .xl { text-anchor: middle; } svg .xt { text-anchor: middle; fill: #666; }
svg .grid { stroke: #e6e6e6; }
.legend { margin: 4px 0 0; padding: 0; list-style: none; font-size: 12px; }
.legend li { display: inline-block; margin-right: 1.2em; }
.swatch { display: inline-block; width: 14px; height: 3px; vertical-align: middle; margin-right: 4px; }
svg .lim { font-weight: normal; fill: #666; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin-top: .5em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
td.why { text-align: left; white-space: normal; min-width: 16em; max-width: 40em; overflow-wrap: anywhere; }
th { background: #f3f3f3; } td.t { text-align: left; }
tr.cancelled td { background: #fff8e5; } tr.failed td, tr.vm_lost td, tr.error td { background: #fdecec; }
.note { color: #666; }
)";

// Series of the charts against axis a: one line per combination of the
// other axes' values while that stays readable; beyond it, one line per
// value of the first other axis with the rest held at their first values.
struct SeriesPlan {
  std::vector<size_t> others, lined, held;
  size_t combos = 1, lines_wanted = 1;
};

SeriesPlan plan_series(const std::vector<Axis>& axes, size_t a) {
  SeriesPlan sp;
  for (size_t k = 0; k < axes.size(); ++k)
    if (k != a) sp.others.push_back(k);
  for (size_t k : sp.others) sp.combos *= axes[k].values.size();
  sp.lined = sp.others;
  if (sp.combos > kMaxSeries && sp.others.size() > 1) {
    sp.lined = {sp.others.front()};
    sp.held.assign(sp.others.begin() + 1, sp.others.end());
  }
  for (size_t k : sp.lined) sp.lines_wanted *= axes[k].values.size();
  return sp;
}

std::vector<Series> build_series(const std::vector<Axis>& axes, size_t a, const SeriesPlan& sp,
                                 const std::vector<const ojson*>& by_point) {
  std::vector<Series> series;
  for (size_t c = 0; c < std::min(sp.lines_wanted, kMaxSeries); ++c) {
    std::vector<size_t> coord(axes.size(), 0);  // held axes stay at 0
    size_t rest = c;
    for (size_t j = sp.lined.size(); j-- > 0;) {
      coord[sp.lined[j]] = rest % axes[sp.lined[j]].values.size();
      rest /= axes[sp.lined[j]].values.size();
    }
    Series s;
    for (size_t j = 0; j < sp.lined.size(); ++j)
      s.label += (j ? ", " : "") + axes[sp.lined[j]].path + "=" +
                 axes[sp.lined[j]].values[coord[sp.lined[j]]];
    for (size_t i = 0; i < axes[a].values.size(); ++i) {
      coord[a] = i;
      s.indices.push_back(index_of(axes, coord));
      s.points.push_back(by_point[s.indices.back()]);
    }
    series.push_back(std::move(s));
  }
  return series;
}

void write_legend(std::ostringstream& h, const std::vector<Axis>& axes, const SeriesPlan& sp,
                  const std::vector<Series>& series) {
  h << "<ul class=\"legend\">\n";
  for (size_t s = 0; s < series.size(); ++s)
    h << "<li><span class=\"swatch\" style=\"background:" << kColors[s] << "\"></span>"
      << html_escape(series[s].label) << "</li>\n";
  h << "</ul>\n";
  std::string note;
  if (!sp.held.empty()) {
    note = "Held at ";
    for (size_t j = 0; j < sp.held.size(); ++j)
      note += (j ? ", " : "") + axes[sp.held[j]].path + "=" + axes[sp.held[j]].values[0];
    note += " (" + std::to_string(sp.combos) +
            " combinations of the other parameters are too many lines)";
  }
  if (sp.lines_wanted > kMaxSeries)
    note += (note.empty() ? "" : "; ") + std::string("showing the first ") +
            std::to_string(kMaxSeries) + " of " + std::to_string(sp.lines_wanted) + " lines";
  if (!note.empty())
    h << "<p class=\"note\">" << html_escape(note) << ". Every point is in the table below.</p>\n";
}

void write_table_row(std::ostringstream& h, const std::vector<Axis>& axes, const ojson& line) {
  const std::string outcome = outcome_of(line);
  h << "<tr class=\"" << html_escape(outcome) << "\"><td>" << line.value("point", 0) << "</td>";
  for (const auto& a : axes)
    h << "<td class=\"t\">" << html_escape(param_of(line, a.path)) << "</td>";
  auto cell = [&](std::optional<double> v, std::string (*fmt)(double)) {
    h << "<td>" << (v ? html_escape(fmt(*v)) : "") << "</td>";
  };
  const ojson iterations = field(line, {"iterations"});
  const bool checked = field(line, {"verification", "checked"}) == true;
  h << "<td class=\"t\">" << html_escape(outcome) << "</td><td class=\"t\">"
    << json_scalar(field(line, {"converged"})) << "</td><td class=\"t\">"
    << html_escape(json_scalar(field(line, {"switchover"}))) << "</td><td>"
    << (iterations.is_array() ? std::to_string(iterations.size()) : "") << "</td>";
  cell(switched_over(line) ? number(line, {"downtime_s"}) : std::nullopt, format_duration);
  cell(number(line, {"total_time_s"}), format_duration);
  cell(number(line, {"bytes", "ram"}), format_bytes);
  cell(number(line, {"bytes", "device"}), format_bytes);
  cell(number(line, {"bytes", "total"}), format_bytes);
  h << "<td class=\"t\">" << (checked ? json_scalar(field(line, {"verification", "passed"})) : "")
    << "</td><td class=\"why\">" << html_escape(reason_of(line)) << "</td></tr>\n";
}

void write_table(std::ostringstream& h, const std::vector<Axis>& axes,
                 const std::vector<ojson>& lines) {
  // The wrapper scrolls sideways instead of widening the page.
  h << "<h2>All points</h2>\n<div class=\"table-wrap\">\n<table>\n<tr><th>point</th>";
  for (const auto& a : axes) h << "<th>" << html_escape(a.path) << "</th>";
  h << "<th>outcome</th><th>converged</th><th>switchover</th><th>iterations</th>"
       "<th>downtime</th><th>total time</th><th>RAM sent</th><th>device sent</th>"
       "<th>total sent</th><th>verified</th><th>reason</th></tr>\n";
  for (const auto& line : lines) write_table_row(h, axes, line);
  h << "</table>\n</div>\n";
}

void write_head(std::ostringstream& h, const std::string& scenario_name,
                const std::string& scenario_path, const std::vector<Axis>& axes,
                const std::vector<ojson>& lines) {
  std::map<std::string, size_t> outcomes;
  for (const auto& line : lines) ++outcomes[outcome_of(line)];
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>sweep: "
    << html_escape(scenario_name) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  h << "<h1>mdevsim sweep: " << html_escape(scenario_name) << "</h1>\n<p>Scenario <code>"
    << html_escape(scenario_path) << "</code>, " << point_count(axes) << " points (";
  for (size_t k = 0; k < axes.size(); ++k)
    h << (k ? " × " : "") << "<code>" << html_escape(axes[k].path) << "</code> "
      << axes[k].values.size();
  h << "), " << lines.size() << " recorded";
  for (const auto& [o, n] : outcomes) h << ", " << n << ' ' << html_escape(o);
  h << ".</p>\n<p class=\"note\">Filled markers: completed; hollow: cancelled or failed; "
       "a cross on the downtime axis: no switchover, so no downtime; gaps: no result. "
       "Values are spaced evenly in the order given to --vary.</p>\n";
}

}  // namespace

std::string csv(const std::vector<Axis>& axes, const std::vector<ojson>& lines) {
  std::ostringstream out;
  out << "point";
  for (const auto& a : axes) out << ',' << csv_field(a.path);
  out << ",outcome,converged,switchover,iterations,downtime_s,total_time_s,ram_bytes,"
         "device_bytes,total_bytes,verification_passed,postcopy_faults,postcopy_stall_p99_s,"
         "postcopy_risk_window_s,reason\n";
  for (const auto& line : lines) {
    out << line.value("point", 0);
    for (const auto& a : axes) out << ',' << csv_field(param_of(line, a.path));
    const bool has_result = result_of(line) != nullptr;
    const ojson iterations = field(line, {"iterations"});
    const ojson switchover = field(line, {"switchover"});
    // verification_passed is empty when nothing was verified (e.g. cancelled).
    const bool checked = field(line, {"verification", "checked"}) == true;
    out << ',' << csv_field(outcome_of(line)) << ',' << json_scalar(field(line, {"converged"}))
        << ',' << (switchover.is_string() ? csv_field(switchover.get<std::string>()) : "") << ','
        << (has_result && iterations.is_array() ? std::to_string(iterations.size()) : "") << ','
        << json_scalar(field(line, {"downtime_s"})) << ','
        << json_scalar(field(line, {"total_time_s"})) << ','
        << json_scalar(field(line, {"bytes", "ram"})) << ','
        << json_scalar(field(line, {"bytes", "device"})) << ','
        << json_scalar(field(line, {"bytes", "total"})) << ','
        << (checked ? json_scalar(field(line, {"verification", "passed"})) : "") << ','
        << json_scalar(field(line, {"postcopy", "faults"})) << ','
        << json_scalar(field(line, {"postcopy", "stall_p99_s"})) << ','
        << json_scalar(field(line, {"postcopy", "risk_window_s"})) << ','
        << csv_field(reason_of(line)) << '\n';
  }
  return out.str();
}

std::string html(const std::string& scenario_name, const std::string& scenario_path,
                 const std::vector<Axis>& axes, const std::vector<ojson>& lines,
                 const std::vector<double>& downtime_limits_s) {
  const size_t total = point_count(axes);
  std::vector<const ojson*> by_point(total, nullptr);
  for (const auto& line : lines) {
    const size_t p = line.value("point", size_t{0});
    if (p < total) by_point[p] = &line;
  }
  std::ostringstream h;
  write_head(h, scenario_name, scenario_path, axes, lines);
  for (size_t a = 0; a < axes.size(); ++a) {
    const SeriesPlan sp = plan_series(axes, a);
    const std::vector<Series> series = build_series(axes, a, sp, by_point);
    h << "<h2>against <code>" << html_escape(axes[a].path)
      << "</code></h2>\n<div class=\"charts\">\n";
    for (const auto& m : metrics()) h << chart_svg(m, axes[a], series, downtime_limits_s);
    h << "</div>\n";
    if (!sp.others.empty()) write_legend(h, axes, sp, series);
  }
  write_table(h, axes, lines);
  if (lines.size() < total)
    h << "<p class=\"note\">" << total - lines.size()
      << " points have not run yet; run the same mdevsim sweep command again to resume.</p>\n";
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace mdevsim::sweep
