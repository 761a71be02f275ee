#include "mdevsim/sim/units.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>
#include <vector>

namespace mdevsim::sim {

namespace {

// Splits "1.5GiB" into 1.5 and "GiB"; refuses signs, blanks and junk.
std::pair<double, std::string> split(const std::string& text, const char* kind,
                                     const char* example) {
  const auto fail = [&](const std::string& why) {
    return UnitError("'" + text + "' is not a " + kind + ": " + why + " (example: \"" + example +
                     "\")");
  };
  if (text.empty()) throw fail("empty");
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
    ++i;
  if (i == 0) {
    if (text[0] == '-') throw fail("negative values are not allowed");
    throw fail("it must start with a number");
  }
  const std::string number = text.substr(0, i);
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(v))
    throw fail("bad number '" + number + "'");
  std::string unit = text.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  if (unit.empty()) throw fail("a unit is required (only 0 may be written without one)");
  return {v, unit};
}

struct Unit {
  const char* name;
  double factor;
};

double lookup(const std::string& text, const std::string& unit, const std::vector<Unit>& units,
              const char* kind, const char* example) {
  for (const auto& u : units)
    if (unit == u.name) return u.factor;
  std::string known;
  for (const auto& u : units) known += std::string(known.empty() ? "" : ", ") + u.name;
  throw UnitError("'" + text + "' is not a " + kind + ": unknown unit '" + unit +
                  "' (known: " + known + "; example: \"" + example + "\")");
}

}  // namespace

uint64_t parse_size(const std::string& text) {
  static const std::vector<Unit> units = {{"B", 1},
                                          {"KiB", 1024.0},
                                          {"MiB", 1048576.0},
                                          {"GiB", 1073741824.0},
                                          {"TiB", 1099511627776.0},
                                          {"KB", 1e3},
                                          {"MB", 1e6},
                                          {"GB", 1e9},
                                          {"TB", 1e12}};
  if (text == "0") return 0;  // zero is zero in every unit
  const auto [v, unit] = split(text, "size", "4GiB");
  const double bytes = v * lookup(text, unit, units, "size", "4GiB");
  if (bytes >= 18446744073709551615.0) throw UnitError("'" + text + "' is too large a size");
  if (bytes != std::floor(bytes)) throw UnitError("'" + text + "' is not a whole number of bytes");
  return static_cast<uint64_t>(bytes);
}

double parse_rate(const std::string& text) {
  static const std::vector<Unit> units = {{"bit/s", 1.0 / 8},      {"Kbit/s", 1e3 / 8},
                                          {"Mbit/s", 1e6 / 8},     {"Gbit/s", 1e9 / 8},
                                          {"Tbit/s", 1e12 / 8},    {"B/s", 1},
                                          {"KiB/s", 1024.0},       {"MiB/s", 1048576.0},
                                          {"GiB/s", 1073741824.0}, {"TiB/s", 1099511627776.0},
                                          {"KB/s", 1e3},           {"MB/s", 1e6},
                                          {"GB/s", 1e9},           {"TB/s", 1e12}};
  if (text == "0") return 0;
  const auto [v, unit] = split(text, "rate", "10Gbit/s");
  return v * lookup(text, unit, units, "rate", "10Gbit/s");
}

double parse_duration(const std::string& text) {
  static const std::vector<Unit> units = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3},
                                          {"s", 1},     {"min", 60},  {"h", 3600}};
  if (text == "0") return 0;
  const auto [v, unit] = split(text, "duration", "300ms");
  return v * lookup(text, unit, units, "duration", "300ms");
}

std::string format_bytes(double b) {
  const char* names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) {
    b /= 1024;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.2f %s", b, names[i]);
  return buf;
}

// SI steps down to B/s, then three significant digits: a slow link (1bit/s
// is 0.125 B/s) never prints as 0.
std::string format_rate(double r) {
  char buf[64];
  if (r >= 1e12)
    std::snprintf(buf, sizeof buf, "%.2f TB/s", r / 1e12);
  else if (r >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2f GB/s", r / 1e9);
  else if (r >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2f MB/s", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2f KB/s", r / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3g B/s", r);
  return buf;
}

std::string format_duration(double s) {
  char buf[64];
  if (s >= 1)
    std::snprintf(buf, sizeof buf, "%.3f s", s);
  else if (s >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  else if (s >= 1e-6 || s == 0)
    std::snprintf(buf, sizeof buf, "%.1f us", s * 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1f ns", s * 1e9);
  return buf;
}

}  // namespace mdevsim::sim
