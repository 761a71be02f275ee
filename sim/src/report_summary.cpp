#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "mdevsim/sim/units.h"
#include "report_sections.h"
#include "report_svg.h"

namespace mdevsim::sim::report_detail {

namespace {

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

}  // namespace

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

}  // namespace mdevsim::sim::report_detail
