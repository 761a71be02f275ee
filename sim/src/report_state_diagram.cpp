#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "report_sections.h"
#include "report_svg.h"

namespace mdevsim::sim::report_detail {

namespace {

// ---- state diagram ----

struct Pt {
  double x = 0, y = 0;
};

constexpr double kNodeW = 128, kNodeH = 34;

// Where the segment from a node's centre towards `to` leaves its rounded box.
Pt leave_box(Pt c, Pt to, double gap) {
  const double dx = to.x - c.x, dy = to.y - c.y, len = std::hypot(dx, dy);
  if (!(len > 0)) return c;
  const double ux = dx / len, uy = dy / len;
  const double t = std::min(std::fabs(ux) > 1e-9 ? (kNodeW / 2) / std::fabs(ux) : 1e9,
                            std::fabs(uy) > 1e-9 ? (kNodeH / 2) / std::fabs(uy) : 1e9);
  return {c.x + ux * (t + gap), c.y + uy * (t + gap)};
}

struct Curve {
  Pt a, ctl, b;
  Pt at(double t) const {  // quadratic Bézier
    const double u = 1 - t;
    return {u * u * a.x + 2 * u * t * ctl.x + t * t * b.x,
            u * u * a.y + 2 * u * t * ctl.y + t * t * b.y};
  }
};

}  // namespace

void state_diagram(std::ostream& o, const RunLog& log, const ReportContext& c) {
  o << "<section id=\"states\">\n<h2>Protocol state diagram</h2>\n<p class=\"note\">Protocol "
    << esc(!c.protocol.empty()     ? c.protocol
           : !log.protocol.empty() ? log.protocol
                                   : "unknown")
    << ". Grey arrows: the protocol's single arcs. Blue: the source device's path, orange: the "
       "destination's, numbered in order; dashed: a step that is not one of the listed arcs.</p>\n";
  std::vector<std::string> names;
  std::map<std::string, std::string> notes;
  auto add = [&](const std::string& s) {
    if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
  };
  for (const auto& s : c.states) {
    add(s.name);
    notes[s.name] = s.note;
  }
  for (const auto& a : c.arcs) add(a.from), add(a.to);
  // Visits per host, in time order (stable: equal times keep the log order).
  std::map<std::string, std::vector<RunLog::StateVisit>> by_host;
  for (const auto& v : log.states) {
    add(v.state);
    by_host[v.host].push_back(v);
  }
  // Source first, then destination, then anything else.
  std::vector<std::pair<std::string, std::vector<RunLog::StateVisit>>> paths;
  for (const char* h : {"src", "dst"})
    if (auto it = by_host.find(h); it != by_host.end()) {
      paths.emplace_back(*it);
      by_host.erase(it);
    }
  for (auto& hp : by_host) paths.emplace_back(std::move(hp));
  for (auto& [h, p] : paths)
    std::stable_sort(p.begin(), p.end(),
                     [](const auto& a, const auto& b) { return a.t_s < b.t_s; });
  if (names.empty()) {
    no_data(o, "diagram-states", "no protocol states given and none visited");
    o << "</section>\n";
    return;
  }

  // Circle layout, first state at the top, clockwise.
  const double w = 760, h = names.size() > 6 ? 560 : 480, cx = w / 2, cy = h / 2;
  const double rad = names.size() == 1 ? 0 : std::min(cx - kNodeW / 2 - 20, cy - kNodeH - 20);
  std::map<std::string, Pt> pos;
  for (size_t i = 0; i < names.size(); ++i) {
    const double a =
        -std::numbers::pi / 2 + 2 * std::numbers::pi * double(i) / double(names.size());
    pos[names[i]] = {cx + rad * std::cos(a), cy + rad * std::sin(a)};
  }
  std::set<std::pair<std::string, std::string>> arcset;
  for (const auto& a : c.arcs) arcset.insert({a.from, a.to});
  std::set<std::pair<std::string, std::string>> taken;  // steps that are not listed arcs
  for (const auto& [h2, p] : paths)
    for (size_t i = 1; i < p.size(); ++i)
      if (p[i - 1].state != p[i].state && !arcset.count({p[i - 1].state, p[i].state}))
        taken.insert({p[i - 1].state, p[i].state});
  // Both directions present: bend each to its own side so they do not overlap.
  auto curve = [&](const std::string& f, const std::string& t) {
    const Pt a = pos[f], b = pos[t];
    const bool pair = arcset.count({t, f}) || taken.count({t, f});
    const double dx = b.x - a.x, dy = b.y - a.y, len = std::max(1e-9, std::hypot(dx, dy));
    const double bend = pair ? 22 : 0;
    const Pt ctl{(a.x + b.x) / 2 - dy / len * bend, (a.y + b.y) / 2 + dx / len * bend};
    return Curve{leave_box(a, ctl, 2), ctl, leave_box(b, ctl, 6)};
  };
  auto path_d = [](const Curve& k) {
    return "M" + n(k.a.x) + ' ' + n(k.a.y) + " Q" + n(k.ctl.x) + ' ' + n(k.ctl.y) + ' ' + n(k.b.x) +
           ' ' + n(k.b.y);
  };

  svg_open(o, "diagram-states", w, h, "protocol state diagram with the path taken");
  o << "<defs>";
  for (const char* m : {"arc", "src", "dst"})
    o << "<marker id=\"arrow-" << m << "\" class=\"m-" << m
      << "\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerUnits=\"userSpaceOnUse\" "
         "markerWidth=\"11\" markerHeight=\"11\" "
         "orient=\"auto-start-reverse\"><path d=\"M0 0 L10 5 L0 10 z\"/></marker>";
  o << "</defs>\n";
  for (const auto& a : c.arcs) {
    if (a.from == a.to) continue;
    const Curve k = curve(a.from, a.to);
    o << "<path class=\"arc\" d=\"" << path_d(k) << "\" marker-end=\"url(#arrow-arc)\" data-tip=\""
      << esc(a.from + " \u2192 " + a.to + (a.label.empty() ? "" : ": " + a.label)) << "\"/>\n";
  }
  for (const auto& [f, t] : taken)
    o << "<path class=\"arc extra\" d=\"" << path_d(curve(f, t))
      << "\" marker-end=\"url(#arrow-arc)\" data-tip=\"" << esc(f + " \u2192 " + t)
      << ": not a single arc of this protocol\"/>\n";
  // The path taken, one colour per host, each step numbered near its arrow.
  std::map<std::string, std::set<std::string>> visited_by;
  std::map<std::pair<std::string, std::string>, int> uses;
  std::ostringstream badges;
  for (const auto& [host, p] : paths) {
    const std::string cls = host == "src" ? "src" : host == "dst" ? "dst" : "other";
    for (const auto& v : p) visited_by[v.state].insert(host);
    int step = 0;
    for (size_t i = 1; i < p.size(); ++i) {
      if (p[i - 1].state == p[i].state) continue;
      ++step;
      const Curve k = curve(p[i - 1].state, p[i].state);
      const std::string tip = host + " step " + std::to_string(step) + ": " + p[i - 1].state +
                              " \u2192 " + p[i].state + " at " + dur(p[i].t_s);
      o << "<path class=\"taken " << cls << "\" d=\"" << path_d(k) << "\" marker-end=\"url(#arrow-"
        << (cls == "dst" ? "dst" : "src") << ")\" data-tip=\"" << esc(tip) << "\"/>\n";
      // Repeated use of one arc (a retried migration) slides the badge along.
      const int u = uses[{p[i - 1].state, p[i].state}]++;
      const double t = std::clamp((cls == "dst" ? 0.62 : 0.38) + 0.12 * u, 0.15, 0.85);
      const Pt b = k.at(t);
      badges << "<g class=\"badge " << cls << "\" data-tip=\"" << esc(tip) << "\"><circle cx=\""
             << n(b.x) << "\" cy=\"" << n(b.y) << "\" r=\"9\"/><text x=\"" << n(b.x) << "\" y=\""
             << n(b.y + 4) << "\" text-anchor=\"middle\">" << step << "</text></g>\n";
    }
  }
  for (const auto& s : names) {
    const Pt p = pos[s];
    const auto& vb = visited_by[s];
    const std::string cls = vb.count("src") && vb.count("dst") ? "both"
                            : vb.count("src")                  ? "src"
                            : vb.count("dst")                  ? "dst"
                            : vb.empty()                       ? ""
                                                               : "both";
    std::string tip = s;
    if (!notes[s].empty()) tip += ": " + notes[s];
    for (const auto& h2 : vb) tip += "; visited by " + h2;
    o << "<g class=\"node " << cls << "\" data-tip=\"" << esc(tip) << "\"><rect x=\""
      << n(p.x - kNodeW / 2) << "\" y=\"" << n(p.y - kNodeH / 2) << "\" width=\"" << n(kNodeW)
      << "\" height=\"" << n(kNodeH) << "\" rx=\"17\"/><text x=\"" << n(p.x) << "\" y=\""
      << n(p.y + 5) << "\" text-anchor=\"middle\">" << esc(s) << "</text></g>\n";
  }
  o << badges.str();
  o << "<g class=\"legend\"><circle class=\"src\" cx=\"16\" cy=\"16\" r=\"6\"/><text x=\"28\" "
       "y=\"20\">source</text><circle class=\"dst\" cx=\"16\" cy=\"36\" r=\"6\"/><text x=\"28\" "
       "y=\"40\">destination</text></g>\n</svg>\n";

  if (!paths.empty()) {
    o << "<table class=\"steps\"><tr><th>host</th><th>#</th><th>state entered</th><th>at</th>"
         "</tr>\n";
    for (const auto& [host, p] : paths) {
      int step = 0;
      for (size_t i = 0; i < p.size(); ++i) {
        const bool moved = i > 0 && p[i - 1].state != p[i].state;
        if (moved) ++step;
        o << "<tr><td>" << esc(host) << "</td><td>"
          << (i == 0  ? "start"
              : moved ? std::to_string(step)
                      : "")
          << "</td><td>" << esc(p[i].state) << "</td><td>" << esc(dur(p[i].t_s)) << "</td></tr>\n";
      }
    }
    o << "</table>\n";
  }
  o << "</section>\n";
}

}  // namespace mdevsim::sim::report_detail
