#include "mdevsim/sim/report.h"

// The page itself: header, styles, tooltips, the sections in order. Each
// section is drawn in its own file (report_sections.h); the drawing
// primitives they share are in report_svg.h.
#include <cmath>
#include <ostream>
#include <sstream>
#include <string>

#include "mdevsim/sim/units.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "report_sections.h"
#include "report_svg.h"

namespace mdevsim::sim {

// ---- ReportContext helpers ----

ReportContext ReportContext::from_drawing(const ProtocolDrawing& d) {
  ReportContext c;
  c.protocol = d.spec->name;
  for (const auto& f : d.spec->features)
    if (d.flags & f.flag) c.features.push_back(f.name);
  // Around the circle in migration order, so most arcs join neighbours and
  // the stopped hub sits opposite pre-copy.
  for (const auto* st : d.in_migration_order())
    c.states.push_back({st->name, d.style == ProtocolStyle::kFile ? st->meaning : ""});
  for (const auto& a : d.arcs) c.arcs.push_back({a.from_name, a.to_name, a.label});
  return c;
}

ReportContext ReportContext::from_v2(uint64_t flags) {
  return from_drawing(draw_protocol(vfio::builtin_protocol_v2(), flags, ProtocolStyle::kKernel));
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

using namespace report_detail;

namespace {

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
