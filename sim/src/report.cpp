#include "mdevsim/sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/mig_fsm.h"

namespace mdevsim::sim {

// ---- ReportContext helpers ----

ReportContext ReportContext::from_v2(uint64_t flags) {
  ReportContext c;
  c.protocol = "v2";
  std::stringstream ss(vfio::features_name(flags));
  for (std::string f; std::getline(ss, f, ',');)
    if (!f.empty()) c.features.push_back(f);
  // Around the circle in migration order, so most arcs join neighbours and
  // STOP (the hub) sits opposite PRE_COPY.
  using S = vfio::MigState;
  for (S s : {S::kRunning, S::kPreCopy, S::kPreCopyP2P, S::kStopCopy, S::kStop, S::kResuming,
              S::kRunningP2P})
    if (vfio::state_supported(s, flags)) c.states.push_back({vfio::state_name(s), ""});
  for (const auto& a : vfio::arcs_for(flags))
    c.arcs.push_back(
        {vfio::state_name(a.from), vfio::state_name(a.to),
         a.effect == vfio::SessionEffect::kNone ? "" : vfio::session_effect_name(a.effect)});
  return c;
}

ReportContext ReportContext::from_v1() {
  ReportContext c;
  c.protocol = "v1";
  // 101b and 111b are invalid encodings: no device is ever in them.
  for (uint32_t s : {1u, 3u, 2u, 0u, 6u, 4u})
    c.states.push_back({vfio::v1::bits(s), vfio::v1::meaning(s)});
  for (uint32_t a : {0u, 1u, 2u, 3u, 4u})
    for (uint32_t b : {0u, 1u, 2u, 3u, 4u})
      if (a != b && vfio::v1::check_transition(a, b, /*strict=*/true) == 0)
        c.arcs.push_back({vfio::v1::bits(a), vfio::v1::bits(b), ""});
  return c;
}

namespace {

// ---- text and numbers ----

std::string esc(std::string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      case '\'':
        o += "&#39;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

template <typename... A>
std::string fmt(const char* f, A... a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

// Every SVG coordinate goes through here: a NaN or an infinity would make
// the browser drop the element (or the whole path), so they become 0.
std::string n(double v) {
  if (!std::isfinite(v) || std::fabs(v) < 0.005) return "0";
  return fmt("%.2f", v);
}

double finite_or(double v, double fallback) { return std::isfinite(v) ? v : fallback; }

std::string dur(double s) {
  if (!std::isfinite(s)) return "n/a";
  if (s == 0) return "0 s";
  return format_duration(s);
}
std::string bytes(double b) { return std::isfinite(b) ? format_bytes(b) : "n/a"; }

// Compact tick label: 3 significant digits, k/M/G suffixes for counts.
std::string tick_label(double v) {
  if (!std::isfinite(v)) return "0";
  const double a = std::fabs(v);
  if (a >= 1e9) return fmt("%gG", std::round(v / 1e7) / 100);
  if (a >= 1e6) return fmt("%gM", std::round(v / 1e4) / 100);
  if (a >= 1e4) return fmt("%gk", std::round(v / 10) / 100);
  return fmt("%g", std::round(v * 1000) / 1000);
}

// ---- scales and axes ----

struct Scale {
  double d0, d1, r0, r1;
  Scale(double a, double b, double ra, double rb) : d0(a), d1(b), r0(ra), r1(rb) {
    if (!std::isfinite(d0)) d0 = 0;
    if (!std::isfinite(d1) || d1 <= d0) d1 = d0 + 1;  // empty or flat data: any unit range
  }
  double operator()(double v) const {
    if (!std::isfinite(v)) v = d0;
    return r0 + (v - d0) / (d1 - d0) * (r1 - r0);
  }
};

double nice_step(double span, int want) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / want, mag = std::pow(10, std::floor(std::log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

// Rounds a positive maximum up to a tick so the top gridline is labelled.
double nice_max(double v) {
  if (!(v > 0) || !std::isfinite(v)) return 1;
  const double step = nice_step(v, 5);
  return std::ceil(v / step - 1e-9) * step;
}

std::vector<double> ticks(double lo, double hi, int want = 5) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double step = nice_step(hi - lo, want);
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-6 && t.size() < 50; v += step)
    t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

// A unit that keeps axis numbers between 1 and 1024 (or 1000 for time).
struct Unit {
  double div = 1;
  std::string name;
};
Unit bytes_unit(double max) {
  const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  Unit u{1, names[0]};
  for (int i = 1; i < 5 && max / u.div >= 1024; ++i) u = {u.div * 1024, names[i]};
  return u;
}
Unit time_unit(double max_s) {
  if (max_s > 0 && max_s < 1e-3) return {1e-6, "us"};
  if (max_s > 0 && max_s < 1) return {1e-3, "ms"};
  return {1, "s"};
}

constexpr double kW = 760, kH = 260, kL = 72, kR = 24, kT = 24, kB = 46;

void svg_open(std::ostream& o, std::string_view id, double w, double h, std::string_view label) {
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << id
    << "\" class=\"chart\" viewBox=\"0 0 " << n(w) << ' ' << n(h) << "\" width=\"" << n(w)
    << "\" height=\"" << n(h) << "\" role=\"img\" aria-label=\"" << esc(label) << "\">\n";
}

// Charts keep their id when there is nothing to draw, so the page layout and
// the tests' anchors stay the same; the frame says why it is empty.
void no_data(std::ostream& o, std::string_view id, std::string_view why, double w = kW,
             double h = 90) {
  svg_open(o, id, w, h, "no data");
  o << "<rect class=\"nodata\" x=\"1\" y=\"1\" width=\"" << n(w - 2) << "\" height=\"" << n(h - 2)
    << "\" rx=\"6\"/>\n<text class=\"nodata\" x=\"" << n(w / 2) << "\" y=\"" << n(h / 2 + 5)
    << "\" text-anchor=\"middle\">no data: " << esc(why) << "</text>\n</svg>\n";
}

void axes(std::ostream& o, const Scale& x, const Scale& y, const std::vector<double>& xt,
          const std::vector<double>& yt, std::string_view xlabel, std::string_view ylabel,
          bool x_ticks_are_bands = false) {
  o << "<g class=\"axes\">\n";
  for (double v : yt) {
    o << "<line class=\"grid\" x1=\"" << n(x.r0) << "\" x2=\"" << n(x.r1) << "\" y1=\"" << n(y(v))
      << "\" y2=\"" << n(y(v)) << "\"/>";
    o << "<text x=\"" << n(x.r0 - 6) << "\" y=\"" << n(y(v) + 4) << "\" text-anchor=\"end\">"
      << tick_label(v) << "</text>\n";
  }
  if (!x_ticks_are_bands)
    for (double v : xt)
      o << "<line class=\"tick\" x1=\"" << n(x(v)) << "\" x2=\"" << n(x(v)) << "\" y1=\"" << n(y.r0)
        << "\" y2=\"" << n(y.r0 + 4) << "\"/><text x=\"" << n(x(v)) << "\" y=\"" << n(y.r0 + 17)
        << "\" text-anchor=\"middle\">" << tick_label(v) << "</text>\n";
  o << "<line class=\"axis\" x1=\"" << n(x.r0) << "\" x2=\"" << n(x.r1) << "\" y1=\"" << n(y.r0)
    << "\" y2=\"" << n(y.r0) << "\"/>";
  o << "<line class=\"axis\" x1=\"" << n(x.r0) << "\" x2=\"" << n(x.r0) << "\" y1=\"" << n(y.r0)
    << "\" y2=\"" << n(y.r1) << "\"/>\n";
  o << "<text class=\"label\" x=\"" << n((x.r0 + x.r1) / 2) << "\" y=\"" << n(y.r0 + 36)
    << "\" text-anchor=\"middle\">" << esc(xlabel) << "</text>\n";
  o << "<text class=\"label\" transform=\"translate(16," << n((y.r0 + y.r1) / 2)
    << ") rotate(-90)\" text-anchor=\"middle\">" << esc(ylabel) << "</text>\n</g>\n";
}

// ---- summary ----

std::string outcome_class(const std::string& outcome) {
  for (const char* k : {"completed", "failed", "cancelled", "vm_lost"})
    if (outcome == k) return k;
  return "other";
}

void downtime_bar(std::ostream& o, double downtime, double limit) {
  const double w = 520, h = 62;
  const bool has_limit = std::isfinite(limit) && limit > 0;
  const double dt = std::max(0.0, finite_or(downtime, 0));
  const Scale x(0, std::max(dt, has_limit ? limit : 0) * 1.15, 10, w - 10);
  const bool over = has_limit && dt > limit;
  svg_open(o, "bar-downtime", w, h, "downtime against the limit");
  o << "<rect class=\"track\" x=\"10\" y=\"12\" width=\"" << n(w - 20)
    << "\" height=\"22\" rx=\"4\"/>\n<rect class=\"" << (over ? "bad" : "good")
    << "\" x=\"10\" y=\"12\" width=\"" << n(x(dt) - 10) << "\" height=\"22\" rx=\"4\" data-tip=\""
    << "downtime " << esc(dur(dt)) << "\"/>\n";
  o << "<text x=\"14\" y=\"52\">downtime " << esc(dur(dt)) << "</text>\n";
  if (has_limit) {
    o << "<line class=\"limit\" x1=\"" << n(x(limit)) << "\" x2=\"" << n(x(limit))
      << "\" y1=\"6\" y2=\"40\"/>\n<text x=\"" << n(x(limit)) << "\" y=\"52\" text-anchor=\""
      << (x(limit) > w * 0.7 ? "end" : "middle") << "\">limit " << esc(dur(limit)) << "</text>\n";
  } else {
    o << "<text x=\"" << n(w - 14) << "\" y=\"52\" text-anchor=\"end\">no limit given</text>\n";
  }
  o << "</svg>\n";
}

// The result's `switchover` reason, in words. Read through the JSON so a
// result without the field (older files) reads as unknown.
std::string switchover_text(const Result& r) {
  const auto j = to_json(r);
  const auto it = j.find("switchover");
  if (it == j.end() || !it->is_string()) return "unknown (not in the result)";
  const std::string v = it->get<std::string>();
  if (v.empty()) return "unknown (not in the result)";
  if (v == "converged") return "converged: the downtime rule fired";
  if (v == "forced") return "forced: an iteration or time limit ended pre-copy (force)";
  if (v == "postcopy") return "post-copy: the destination ran before every page arrived";
  if (v == "none") return "none: the source never stopped for a switchover";
  return v;
}

bool downtime_exceeded(const Result& r, const ReportContext& c) {
  return c.downtime_limit_s > 0 && std::isfinite(r.downtime_s) && r.downtime_s > c.downtime_limit_s;
}

void summary(std::ostream& o, const Result& r, const ReportContext& c) {
  const std::string cls = outcome_class(r.outcome);
  o << "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"outcome " << cls << "\">"
    << esc(r.outcome) << "</div>\n";
  if (!r.reason.empty()) o << "<p class=\"reason\">" << esc(r.reason) << "</p>\n";
  const bool exceeded = downtime_exceeded(r, c);
  if (exceeded)
    o << "<p class=\"exceeded\" id=\"downtime-exceeded\">downtime exceeded the limit: "
      << esc(dur(r.downtime_s)) << " against " << esc(dur(c.downtime_limit_s)) << " (+"
      << esc(dur(r.downtime_s - c.downtime_limit_s)) << ")</p>\n";
  downtime_bar(o, r.downtime_s, c.downtime_limit_s);
  auto row = [&](std::string_view k, const std::string& v) {
    o << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>\n";
  };
  o << "<table class=\"kv\">\n";
  row("downtime", dur(r.downtime_s) +
                      (c.downtime_limit_s > 0
                           ? " (limit " + dur(c.downtime_limit_s) + (exceeded ? ", exceeded)" : ")")
                           : ""));
  row("switchover", switchover_text(r));
  row("total time", dur(r.total_time_s));
  row("bytes sent", bytes(double(r.ram_bytes) + double(r.device_bytes)) + " (RAM " +
                        bytes(double(r.ram_bytes)) + ", device " + bytes(double(r.device_bytes)) +
                        ")");
  row("pre-copy iterations", std::to_string(r.iterations.size()));
  row("converged", r.converged ? "yes" : "no");
  const auto& v = r.verification;
  std::string ver = "not checked";
  if (v.checked) {
    ver = v.passed ? "passed" : "FAILED";
    if (!v.passed)
      ver += " (" + std::to_string(v.vram_pages_mismatched) + " VRAM pages, " +
             std::to_string(v.ram_pages_mismatched) + " RAM pages, " +
             std::to_string(v.device_fields_mismatched) + " device fields differ)";
    ver += std::string("; continuation ") + (v.continuation_matches ? "matches" : "differs");
  }
  if (r.outcome == "cancelled")
    ver += std::string("; source ") + (v.source_intact ? "intact" : "NOT intact");
  row("verification", ver);
  if (!v.differences.empty()) {
    std::string d;
    for (const auto& s : v.differences) d += (d.empty() ? "" : ", ") + s;
    row("first differences", d);
  }
  if (r.stop_copy)
    row("stop-and-copy", bytes(double(r.stop_copy->ram_bytes) + double(r.stop_copy->device_bytes)) +
                             " (device stop " + dur(r.stop_copy->device_stop_s) + ", transfer " +
                             dur(r.stop_copy->transfer_s) + ", resume " +
                             dur(r.stop_copy->resume_s) + ")");
  if (r.device_run) {
    const auto& d = *r.device_run;
    row("device-only run", std::to_string(d.page_writes) + " page writes, " +
                               std::to_string(d.unique_pages) + " distinct pages, " +
                               format_rate(finite_or(d.achieved_rate, 0)));
  }
  row("seed", std::to_string(r.seed));
  o << "</table>\n</section>\n";
}

// ---- per-iteration bars ----

void iterations_chart(std::ostream& o, const Result& r) {
  o << "<section id=\"iterations\">\n<h2>Bytes per iteration</h2>\n";
  struct Bar {
    std::string label, tip;
    double ram, dev;
    bool stop;
  };
  std::vector<Bar> bars;
  for (const auto& it : r.iterations)
    bars.push_back({std::to_string(it.index),
                    "iteration " + std::to_string(it.index) + ": RAM " +
                        bytes(double(it.ram_bytes)) + ", device " + bytes(double(it.device_bytes)) +
                        ", " + dur(it.duration_s) + " at " +
                        format_rate(finite_or(it.bandwidth, 0)) + ", expected downtime " +
                        dur(it.expected_downtime_s) +
                        (it.throttle > 0 ? fmt(", throttle %.0f%%", it.throttle * 100) : ""),
                    double(it.ram_bytes), double(it.device_bytes), false});
  if (r.stop_copy)
    bars.push_back({"stop",
                    "stop-and-copy: RAM " + bytes(double(r.stop_copy->ram_bytes)) + ", device " +
                        bytes(double(r.stop_copy->device_bytes)),
                    double(r.stop_copy->ram_bytes), double(r.stop_copy->device_bytes), true});
  if (bars.empty()) {
    no_data(o, "chart-iterations", "no pre-copy iteration and no stop-and-copy");
    o << "</section>\n";
    return;
  }
  double max = 0;
  for (const auto& b : bars) max = std::max(max, b.ram + b.dev);
  const Unit u = bytes_unit(max);
  const double top = nice_max(max / u.div);
  const Scale x(0, double(bars.size()), kL, kW - kR), y(0, top, kH - kB, kT);
  svg_open(o, "chart-iterations", kW, kH, "RAM and device bytes per iteration");
  axes(o, x, y, {}, ticks(0, top), "pre-copy iteration (stop = stop-and-copy)",
       "bytes sent (" + u.name + ")", true);
  const double band = (x.r1 - x.r0) / double(bars.size());
  const size_t label_every = std::max<size_t>(1, bars.size() / 25);  // keep labels legible
  for (size_t i = 0; i < bars.size(); ++i) {
    const auto& b = bars[i];
    const double x0 = x(double(i)) + band * 0.15, bw = band * 0.7;
    const double yr = y(b.ram / u.div), yd = y((b.ram + b.dev) / u.div);
    o << "<g data-tip=\"" << esc(b.tip) << "\">";
    o << "<rect class=\"" << (b.stop ? "ram-stop" : "ram") << "\" x=\"" << n(x0) << "\" y=\""
      << n(yr) << "\" width=\"" << n(bw) << "\" height=\"" << n(y.r0 - yr) << "\"/>";
    o << "<rect class=\"" << (b.stop ? "dev-stop" : "dev") << "\" x=\"" << n(x0) << "\" y=\""
      << n(yd) << "\" width=\"" << n(bw) << "\" height=\"" << n(yr - yd) << "\"/>";
    o << "</g>";
    if (bars.size() <= 25)  // the total on top: small bars stay readable
      o << "<text class=\"value\" x=\"" << n(x0 + bw / 2) << "\" y=\"" << n(yd - 4)
        << "\" text-anchor=\"middle\">" << esc(bytes(b.ram + b.dev)) << "</text>";
    if (b.stop || i % label_every == 0)
      o << "<text x=\"" << n(x0 + bw / 2) << "\" y=\"" << n(y.r0 + 16)
        << "\" text-anchor=\"middle\">" << esc(b.label) << "</text>";
    o << "\n";
  }
  // Legend, top right.
  const double lx = kW - kR - 220;
  o << "<g class=\"legend\"><rect class=\"ram\" x=\"" << n(lx) << "\" y=\"6\" width=\"12\" "
    << "height=\"12\"/><text x=\"" << n(lx + 16) << "\" y=\"16\">RAM</text><rect class=\"dev\" x=\""
    << n(lx + 60) << "\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"" << n(lx + 76)
    << "\" y=\"16\">device</text><rect class=\"ram-stop\" x=\"" << n(lx + 130)
    << "\" y=\"6\" width=\"12\" height=\"12\"/><text x=\"" << n(lx + 146)
    << "\" y=\"16\">stop-copy</text></g>\n</svg>\n</section>\n";
}

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

// ---- post-copy faults ----

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = size_t(std::ceil(p * double(sorted.size())));  // nearest rank
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// The result's `postcopy` object (docs/results.md) with labels and units;
// a key this list does not know is still shown, under its own name.
void postcopy_metrics(std::ostream& o, const nlohmann::json& pc) {
  std::set<std::string> shown;
  auto num = [&](const char* k) -> std::optional<double> {
    const auto it = pc.find(k);
    if (it == pc.end() || !it->is_number()) return std::nullopt;
    shown.insert(k);
    return it->get<double>();
  };
  auto count = [](double v) { return fmt("%.0f", v); };
  auto pct = [](double v) { return fmt("%.1f %%", v * 100); };
  o << "<table class=\"kv\" id=\"postcopy-metrics\">\n";
  auto row = [&](std::string_view k, const std::string& v) {
    o << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>\n";
  };
  if (const auto it = pc.find("protocol"); it != pc.end() && it->is_string()) {
    shown.insert("protocol");
    row("protocol", it->get<std::string>());
  }
  if (const auto it = pc.find("device_pages_postcopied"); it != pc.end() && it->is_boolean()) {
    shown.insert("device_pages_postcopied");
    row("device pages post-copied", it->get<bool>() ? "yes" : "no (RAM only)");
  }
  if (const auto it = pc.find("fault_delivery"); it != pc.end() && it->is_string()) {
    shown.insert("fault_delivery");
    row("fault delivery", it->get<std::string>());
  }
  if (const auto f = num("faults")) {
    std::string v = count(*f) + " page faults";
    const auto d = num("device_faults"), ram = num("ram_faults");
    if (d && ram) v += " (device " + count(*d) + ", RAM " + count(*ram) + ")";
    row("faults", v);
  }
  if (const auto v = num("missing_vram_pages_at_switch"), m = num("missing_ram_pages_at_switch");
      v && m)
    row("pages missing at the switch", "VRAM " + count(*v) + ", RAM " + count(*m));
  if (const auto v = num("vram_pages_fetched"), m = num("ram_pages_fetched"); v && m)
    row("pages fetched during post-copy", "VRAM " + count(*v) + ", RAM " + count(*m));
  if (const auto v = num("pages_sent_twice")) row("device pages sent twice", count(*v));
  if (const auto v = num("bytes")) row("bytes moved during post-copy", bytes(*v));
  if (const auto v = num("duration_s"))
    row("post-copy duration (destination start to last page)", dur(*v));
  if (const auto v = num("risk_window_s"))
    row("risk window (source stop to last page: a failure loses the VM)", dur(*v));
  {
    const auto p50 = num("stall_p50_s"), p99 = num("stall_p99_s"), mx = num("stall_max_s"),
               tot = num("stall_total_s");
    if (p50 && p99 && mx && tot)
      row("stall per touch",
          "p50 " + dur(*p50) + ", p99 " + dur(*p99) + ", max " + dur(*mx) + ", total " + dur(*tot));
  }
  if (const auto d = num("device_work_pages"), ref = num("reference_device_work_pages"); d && ref)
    row("device work since the switch",
        count(*d) + " page operations (never-migrated run " + count(*ref) + ")");
  if (const auto d = num("vcpu_writes"), ref = num("reference_vcpu_writes"); d && ref)
    row("vCPU writes since the switch",
        count(*d) + " writes (never-migrated run " + count(*ref) + ")");
  if (const auto v = num("device_slowdown")) row("device slowdown over post-copy", pct(*v));
  if (const auto v = num("device_slowdown_peak")) row("device slowdown, peak", pct(*v));
  if (const auto v = num("vcpu_slowdown")) row("vCPU slowdown over post-copy", pct(*v));
  for (const auto& [k, v] : pc.items())
    if (!shown.count(k)) {
      std::string label = k;
      std::replace(label.begin(), label.end(), '_', ' ');
      row(label, v.is_string() ? v.get<std::string>() : v.dump());
    }
  o << "</table>\n";
}

void postcopy_section(std::ostream& o, const Result& r, const RunLog& log) {
  o << "<section id=\"postcopy\">\n<h2>Post-copy page faults</h2>\n";
  std::vector<PageFaultEvent> faults;
  for (const auto& f : log.faults)
    if (std::isfinite(f.t_s) && std::isfinite(f.stall_s)) faults.push_back(f);
  std::vector<double> stalls;
  for (const auto& f : faults) stalls.push_back(std::max(0.0, f.stall_s));
  std::sort(stalls.begin(), stalls.end());
  o << "<table class=\"kv\" id=\"fault-stats\">\n";
  auto row = [&](std::string_view k, const std::string& v) {
    o << "<tr><th>" << esc(k) << "</th><td>" << esc(v) << "</td></tr>\n";
  };
  row("faults in the run log", std::to_string(faults.size()));
  if (!stalls.empty()) {
    row("stall p50", dur(percentile(stalls, 0.50)));
    row("stall p99", dur(percentile(stalls, 0.99)));
    row("stall max", dur(stalls.back()));
  }
  o << "</table>\n";
  if (r.postcopy && r.postcopy->is_object()) postcopy_metrics(o, *r.postcopy);
  if (faults.empty()) {
    no_data(o, "chart-faults", "no page fault in the run log");
    o << "</section>\n";
    return;
  }
  // Faults come after the switchover: the x axis spans the faults only, or
  // they would be squeezed against its right end.
  double tmin = faults.front().t_s, tmax = tmin;
  for (const auto& f : faults) tmin = std::min(tmin, f.t_s), tmax = std::max(tmax, f.t_s);
  const Unit tu = time_unit(tmax);
  const double smax_ms = nice_max(stalls.back() * 1e3), xlo = tmin / tu.div, xhi = tmax / tu.div;
  const Scale x(xlo, xhi, kL + 8, kW - kR - 8), y(0, smax_ms, kH - kB, kT);
  svg_open(o, "chart-faults", kW, kH, "page faults: stall against time");
  axes(o, x, y, ticks(xlo, xhi), ticks(0, smax_ms), "fault time (" + tu.name + ")", "stall (ms)");
  const size_t stride = std::max<size_t>(1, faults.size() / 4000);  // bound the file size
  for (size_t i = 0; i < faults.size(); i += stride) {
    const auto& f = faults[i];
    o << "<circle class=\"fault " << (f.space == "vram" ? "vram" : "ram") << "\" cx=\""
      << n(x(f.t_s / tu.div)) << "\" cy=\"" << n(y(std::max(0.0, f.stall_s) * 1e3))
      << "\" r=\"3\" data-tip=\"" << esc(f.space) << " page " << f.page << " at " << esc(dur(f.t_s))
      << ", stall " << esc(dur(f.stall_s)) << "\"/>";
  }
  o << "\n<g class=\"legend\"><circle class=\"fault vram\" cx=\"" << n(kW - kR - 140)
    << "\" cy=\"12\" r=\"5\"/><text x=\"" << n(kW - kR - 130)
    << "\" y=\"16\">VRAM</text><circle class=\"fault ram\" cx=\"" << n(kW - kR - 70)
    << "\" cy=\"12\" r=\"5\"/><text x=\"" << n(kW - kR - 60) << "\" y=\"16\">RAM</text></g>\n";
  if (stride > 1)
    o << "<text class=\"note\" x=\"" << n(kL + 6) << "\" y=\"" << n(kT + 4) << "\">every " << stride
      << "th fault shown</text>\n";
  o << "</svg>\n";

  // Histogram of stalls, 20 bins from 0 to the largest stall.
  constexpr int kBins = 20;
  std::vector<size_t> bins(kBins, 0);
  const double top_ms = std::max(stalls.back() * 1e3, 1e-6);
  for (double s : stalls) ++bins[std::min<size_t>(kBins - 1, size_t(s * 1e3 / top_ms * kBins))];
  const double cmax = double(*std::max_element(bins.begin(), bins.end()));
  const Scale hx(0, top_ms, kL, kW - kR), hy(0, nice_max(cmax), kH - kB, kT);
  svg_open(o, "chart-stall-hist", kW, kH, "histogram of fault stalls");
  axes(o, hx, hy, ticks(0, top_ms), ticks(0, nice_max(cmax)), "stall (ms)", "faults");
  for (int i = 0; i < kBins; ++i) {
    const double a = hx(top_ms * i / kBins), b = hx(top_ms * (i + 1) / kBins);
    o << "<rect class=\"hist\" x=\"" << n(a + 1) << "\" y=\"" << n(hy(double(bins[i])))
      << "\" width=\"" << n(std::max(0.0, b - a - 2)) << "\" height=\""
      << n(hy.r0 - hy(double(bins[i]))) << "\" data-tip=\"" << bins[i] << " faults, "
      << fmt("%.3g", top_ms * i / kBins) << "-" << fmt("%.3g", top_ms * (i + 1) / kBins)
      << " ms\"/>";
  }
  for (const auto& [label, p] : {std::pair{"p50", 0.5}, std::pair{"p99", 0.99}}) {
    const double px = hx(percentile(stalls, p) * 1e3);
    o << "\n<line class=\"switchover\" x1=\"" << n(px) << "\" x2=\"" << n(px) << "\" y1=\""
      << n(hy.r0) << "\" y2=\"" << n(hy.r1) << "\"/><text class=\"switchover\" x=\"" << n(px + 3)
      << "\" y=\"" << n(hy.r1 + (p < 0.9 ? 12 : 26)) << "\">" << label << "</text>";
  }
  o << "\n</svg>\n</section>\n";
}

void abi_section(std::ostream& o, const Result& r) {
  if (r.abi_calls.empty() && r.abi_errors.empty()) return;
  o << "<section id=\"abi\">\n<h2>ABI calls</h2>\n<table class=\"kv\">\n";
  for (const auto& [k, v] : r.abi_calls)
    o << "<tr><th>" << esc(k) << "</th><td>" << v << "</td></tr>\n";
  for (const auto& [k, v] : r.abi_errors)
    o << "<tr><th>errno " << esc(k) << "</th><td>" << v << "</td></tr>\n";
  o << "</table>\n</section>\n";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:820px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;font-size:13px}.note{color:#57606a;font-size:12px}
.outcome{display:inline-block;padding:4px 12px;border-radius:14px;color:#fff;font-weight:600;margin-bottom:8px}
.outcome.completed{background:#1a7f37}.outcome.failed{background:#cf222e}.outcome.cancelled{background:#bf8700}
.outcome.vm_lost{background:#82071e}.outcome.other{background:#57606a}.reason{margin:4px 0 8px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top}
th{color:#57606a;font-weight:500}table.steps td,table.steps th{border-bottom:1px solid #eaeef2}
svg.chart{display:block;margin:8px 0;font-size:11px;fill:#1f2328}
svg .grid{stroke:#eaeef2}svg .value{fill:#57606a;font-size:10px}svg .axis,svg .tick{stroke:#57606a}svg .label{font-size:12px;fill:#57606a}
svg rect.nodata{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:4 3}svg text.nodata{fill:#57606a;font-size:13px}
svg .track{fill:#eaeef2}svg .good{fill:#2da44e}svg .bad{fill:#cf222e}svg .limit{stroke:#1f2328;stroke-width:2;stroke-dasharray:3 2}
svg .ram{fill:#218bff}svg .dev{fill:#fb8f44}svg .ram-stop{fill:#0a3069}svg .dev-stop{fill:#953800}
svg .line{fill:none;stroke-width:2}svg .line.c1{stroke:#8250df}svg .line.c2{stroke:#1a7f37}svg .line.c3{stroke:#218bff}
svg .pt.c1{fill:#8250df}svg .pt.c2{fill:#1a7f37}svg .pt.c3{fill:#218bff}
svg line.switchover{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:5 3}svg text.switchover{fill:#cf222e}
svg .downtime{fill:#ffebe9}.exceeded{color:#cf222e;font-weight:600;margin:4px 0 8px}
svg .arc{fill:none;stroke:#8c959f;stroke-width:1.3}svg .arc.extra{stroke-dasharray:5 4}
svg .m-arc path{fill:#8c959f}svg .m-src path{fill:#0969da}svg .m-dst path{fill:#d1470b}
svg .taken{fill:none;stroke-width:3.5;opacity:.85}svg .taken.src{stroke:#0969da}svg .taken.dst{stroke:#d1470b}svg .taken.other{stroke:#8250df}
svg .node rect{fill:#f6f8fa;stroke:#8c959f;stroke-width:1.3}svg .node text{font-size:12px;font-weight:600}
svg .node.src rect{fill:#ddf4ff;stroke:#0969da;stroke-width:2.5}svg .node.dst rect{fill:#fff1e5;stroke:#d1470b;stroke-width:2.5}
svg .node.both rect{fill:#fbefff;stroke:#8250df;stroke-width:2.5}
svg .badge circle{stroke:#fff;stroke-width:1.5}svg .badge text{fill:#fff;font-weight:700;font-size:11px}
svg .badge.src circle,svg circle.src{fill:#0969da}svg .badge.dst circle,svg circle.dst{fill:#d1470b}svg .badge.other circle{fill:#8250df}
svg .fault.vram{fill:#8250df;opacity:.7}svg .fault.ram{fill:#218bff;opacity:.7}svg .hist{fill:#8250df}
#tip{position:absolute;display:none;pointer-events:none;background:#1f2328;color:#fff;font-size:12px;padding:4px 8px;border-radius:4px;max-width:420px}
)";

// Hover tooltips from data-tip attributes. textContent (never innerHTML), and
// every step guarded, so a page with no tooltip target cannot throw.
constexpr const char* kScript = R"(
(function () {
  try {
    var tip = document.getElementById('tip');
    if (tip) {
      document.addEventListener('mouseover', function (e) {
        var t = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
        if (!t) { tip.style.display = 'none'; return; }
        tip.textContent = t.getAttribute('data-tip');
        tip.style.display = 'block';
      });
      document.addEventListener('mousemove', function (e) {
        tip.style.left = (e.pageX + 12) + 'px';
        tip.style.top = (e.pageY + 12) + 'px';
      });
    }
    document.body.setAttribute('data-ready', '1');
  } catch (err) {}
})();
)";

}  // namespace

void write_html_report(const Result& r, const RunLog& log, const ReportContext& c,
                       std::ostream& o) {
  const std::string scenario = c.scenario.empty() ? r.scenario : c.scenario;
  const std::string protocol = c.protocol.empty() ? log.protocol : c.protocol;
  const auto& features = c.features.empty() ? log.features : c.features;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>mdevsim report: " << esc(scenario) << "</title>\n<style>" << kStyle
    << "</style>\n</head>\n<body>\n<div id=\"tip\"></div>\n<header>\n<h1>mdevsim run: "
    << esc(scenario) << "</h1>\n<div class=\"meta\">protocol "
    << esc(protocol.empty() ? "unknown" : protocol);
  if (!features.empty()) {
    std::string f;
    for (const auto& s : features) f += (f.empty() ? "" : ", ") + s;
    o << " (" << esc(f) << ")";
  }
  if (c.link_bandwidth > 0 && std::isfinite(c.link_bandwidth))
    o << " · link " << esc(fmt("%.3g Gbit/s", c.link_bandwidth * 8 / 1e9)) << " ("
      << esc(format_rate(c.link_bandwidth)) << ")";
  if (c.downtime_limit_s > 0) o << " · downtime limit " << esc(dur(c.downtime_limit_s));
  o << " · seed " << r.seed << "</div>\n</header>\n";
  summary(o, r, c);
  iterations_chart(o, r);
  counters_section(o, r, log);
  state_diagram(o, log, c);
  if (r.postcopy || !log.faults.empty()) postcopy_section(o, r, log);
  abi_section(o, r);
  o << "<script>" << kScript << "</script>\n</body>\n</html>\n";
}

}  // namespace mdevsim::sim
