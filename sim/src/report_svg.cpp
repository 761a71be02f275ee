#include "report_svg.h"

#include <cmath>

#include "mdevsim/sim/units.h"

namespace mdevsim::sim::report_detail {

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

std::vector<double> ticks(double lo, double hi, int want) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double step = nice_step(hi - lo, want);
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-6 && t.size() < 50; v += step)
    t.push_back(std::fabs(v) < step * 1e-9 ? 0 : v);
  return t;
}

// A unit that keeps axis numbers between 1 and 1024 (or 1000 for time).
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

void svg_open(std::ostream& o, std::string_view id, double w, double h, std::string_view label) {
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << id
    << "\" class=\"chart\" viewBox=\"0 0 " << n(w) << ' ' << n(h) << "\" width=\"" << n(w)
    << "\" height=\"" << n(h) << "\" role=\"img\" aria-label=\"" << esc(label) << "\">\n";
}

// Charts keep their id when there is nothing to draw, so the page layout and
// the tests' anchors stay the same; the frame says why it is empty.
void no_data(std::ostream& o, std::string_view id, std::string_view why, double w, double h) {
  svg_open(o, id, w, h, "no data");
  o << "<rect class=\"nodata\" x=\"1\" y=\"1\" width=\"" << n(w - 2) << "\" height=\"" << n(h - 2)
    << "\" rx=\"6\"/>\n<text class=\"nodata\" x=\"" << n(w / 2) << "\" y=\"" << n(h / 2 + 5)
    << "\" text-anchor=\"middle\">no data: " << esc(why) << "</text>\n</svg>\n";
}

void axes(std::ostream& o, const Scale& x, const Scale& y, const std::vector<double>& xt,
          const std::vector<double>& yt, std::string_view xlabel, std::string_view ylabel,
          bool x_ticks_are_bands) {
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

}  // namespace mdevsim::sim::report_detail
