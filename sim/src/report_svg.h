// The drawing primitives every section of the run report shares: HTML
// escaping, number formats, linear scales with nice ticks, axes and the
// empty-chart frame. Internal to sim/src/report*.cpp.
#pragma once

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace mdevsim::sim::report_detail {

std::string esc(std::string_view s);

template <typename... A>
std::string fmt(const char* f, A... a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

std::string n(double v);  // an SVG coordinate: 2 decimals, never NaN
double finite_or(double v, double fallback);
std::string dur(double s);
std::string bytes(double b);
std::string tick_label(double v);

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

double nice_step(double span, int want);
double nice_max(double v);  // a positive maximum rounded up to a tick
std::vector<double> ticks(double lo, double hi, int want = 5);

// A unit that keeps axis numbers between 1 and 1024 (or 1000 for time).
struct Unit {
  double div = 1;
  std::string name;
};
Unit bytes_unit(double max);
Unit time_unit(double max_s);

inline constexpr double kW = 760, kH = 260, kL = 72, kR = 24, kT = 24, kB = 46;

void svg_open(std::ostream& o, std::string_view id, double w, double h, std::string_view label);
void no_data(std::ostream& o, std::string_view id, std::string_view why, double w = kW,
             double h = 90);
void axes(std::ostream& o, const Scale& x, const Scale& y, const std::vector<double>& xt,
          const std::vector<double>& yt, std::string_view xlabel, std::string_view ylabel,
          bool x_ticks_are_bands = false);

}  // namespace mdevsim::sim::report_detail
