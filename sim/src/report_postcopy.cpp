#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "report_sections.h"
#include "report_svg.h"

namespace mdevsim::sim::report_detail {

namespace {

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

}  // namespace

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

}  // namespace mdevsim::sim::report_detail
