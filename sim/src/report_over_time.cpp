#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mdevsim/sim/units.h"
#include "report_sections.h"
#include "report_svg.h"

namespace mdevsim::sim::report_detail {

namespace {

// ---- counters over time ----

std::vector<std::pair<double, double>> series(const RunLog& log, std::string_view name) {
  std::vector<std::pair<double, double>> p;
  for (const auto& c : log.counters)
    if (c.name == name && std::isfinite(c.t_s) && std::isfinite(c.value))
      p.emplace_back(c.t_s, c.value);
  std::stable_sort(p.begin(), p.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return p;
}

// Keeps the first, lowest and highest sample of each horizontal pixel, in
// time order, so long runs stay small without losing peaks.
std::vector<std::pair<double, double>> decimate(const std::vector<std::pair<double, double>>& p,
                                                const Scale& x) {
  if (p.size() <= 1500) return p;
  std::vector<std::pair<double, double>> out;
  size_t i = 0;
  while (i < p.size()) {
    const long px = std::lround(x(p[i].first));
    size_t j = i, lo = i, hi = i;
    while (j < p.size() && std::lround(x(p[j].first)) == px) {
      if (p[j].second < p[lo].second) lo = j;
      if (p[j].second > p[hi].second) hi = j;
      ++j;
    }
    std::set<size_t> keep{i, lo, hi, j - 1};
    for (size_t k : keep) out.push_back(p[k]);
    i = j;
  }
  return out;
}

enum class Kind { kBytes, kCount };

void line_chart(std::ostream& o, std::string_view id, std::string_view what,
                const std::vector<std::pair<double, double>>& pts, const Result& r,
                const RunLog& log, Kind kind, std::string_view cls) {
  if (pts.empty()) {
    no_data(o, id, std::string("no \"") + std::string(what) + "\" samples in the run log");
    return;
  }
  double tmax = std::max(finite_or(r.total_time_s, 0), pts.back().first);
  if (log.switchover_s > tmax && std::isfinite(log.switchover_s)) tmax = log.switchover_s;
  double vmax = 0;
  for (const auto& p : pts) vmax = std::max(vmax, p.second);
  const Unit tu = time_unit(tmax);
  const Unit vu = kind == Kind::kBytes ? bytes_unit(vmax) : Unit{1, "pages"};
  const double xtop = tmax / tu.div, ytop = nice_max(vmax / vu.div);
  const Scale x(0, xtop, kL, kW - kR), y(0, ytop, kH - kB, kT);
  svg_open(o, id, kW, kH, std::string(what) + " over time");
  // Downtime first so the line is drawn over it.
  for (const auto& s : log.spans)
    if (s.track == "vm" && s.name == "downtime" && s.end_s >= s.start_s) {
      const double a = x(s.start_s / tu.div), b = x(s.end_s / tu.div);
      o << "<rect class=\"downtime\" x=\"" << n(a) << "\" y=\"" << n(y.r1) << "\" width=\""
        << n(std::max(1.0, b - a)) << "\" height=\"" << n(y.r0 - y.r1) << "\" data-tip=\"downtime "
        << esc(dur(s.end_s - s.start_s)) << "\"/>\n";
    }
  axes(o, x, y, ticks(0, xtop), ticks(0, ytop), "simulated time (" + tu.name + ")",
       kind == Kind::kBytes ? std::string(what) + " (" + vu.name + ")" : std::string(what));
  const auto shown = decimate(pts, Scale(0, xtop, kL, kW - kR));
  o << "<path class=\"line " << cls << "\" d=\"";
  for (size_t i = 0; i < shown.size(); ++i)
    o << (i ? " L" : "M") << n(x(shown[i].first / tu.div)) << ' ' << n(y(shown[i].second / vu.div));
  o << "\"/>\n";
  if (pts.size() <= 300)
    for (const auto& p : pts)
      o << "<circle class=\"pt " << cls << "\" cx=\"" << n(x(p.first / tu.div)) << "\" cy=\""
        << n(y(p.second / vu.div)) << "\" r=\"3\" data-tip=\"" << esc(dur(p.first)) << ": "
        << esc(kind == Kind::kBytes ? bytes(p.second) : fmt("%.0f pages", p.second)) << "\"/>";
  o << "\n";
  if (log.switchover_s >= 0 && std::isfinite(log.switchover_s)) {
    const double sx = x(log.switchover_s / tu.div);
    o << "<line class=\"switchover\" x1=\"" << n(sx) << "\" x2=\"" << n(sx) << "\" y1=\"" << n(y.r0)
      << "\" y2=\"" << n(y.r1) << "\"/><text class=\"switchover\" x=\""
      << n(sx > kW * 0.7 ? sx - 4 : sx + 4) << "\" y=\"" << n(y.r1 + 12) << "\" text-anchor=\""
      << (sx > kW * 0.7 ? "end" : "start") << "\">switchover " << esc(dur(log.switchover_s))
      << "</text>\n";
  }
  o << "</svg>\n";
}

}  // namespace

void counters_section(std::ostream& o, const Result& r, const RunLog& log) {
  o << "<section id=\"over-time\">\n<h2>Remaining bytes and dirty pages over time</h2>\n"
    << "<p class=\"note\">Remaining bytes: what a stop-and-copy would have to send at each "
       "sync. Dirty pages: RAM + VRAM pages found dirty at each sync. The dashed line is the "
       "switchover (source VM stop); the shaded band the downtime.</p>\n";
  line_chart(o, "chart-remaining", "remaining bytes", series(log, "remaining bytes"), r, log,
             Kind::kBytes, "c1");
  line_chart(o, "chart-dirty", "dirty pages", series(log, "dirty pages"), r, log, Kind::kCount,
             "c2");
  if (r.device_run) {
    std::vector<std::pair<double, double>> p;
    for (const auto& [t, pages] : r.device_run->unique_pages_over_time)
      if (std::isfinite(t)) p.emplace_back(t, double(pages));
    line_chart(o, "chart-unique-pages", "distinct pages written", p, r, log, Kind::kCount, "c3");
  }
  o << "</section>\n";
}

}  // namespace mdevsim::sim::report_detail
