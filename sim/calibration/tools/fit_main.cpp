// mdevsim-calibration-fit: the calibration room's line fit and reference
// tables for scripts (scripts/calibrate), so no script re-implements them.
//
//   mdevsim-calibration-fit --table vmware-vsphere70-v100   rows "x y", one a line
//   mdevsim-calibration-fit [--weighting ordinary|relative] < rows
//       the fit as JSON: slope, intercept, relative_error[], max_abs_relative_error
//
// Bad usage or rows: a message on stderr, exit 2.
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mdevsim/calibration/line_fit.h"
#include "mdevsim/calibration/reference_tables.h"

namespace {

using namespace mdevsim::calibration;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "mdevsim-calibration-fit: %s\n"
               "usage: mdevsim-calibration-fit --table vmware-vsphere70-v100\n"
               "       mdevsim-calibration-fit [--weighting ordinary|relative] < \"x y\" rows\n",
               why.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  FitWeighting weighting = FitWeighting::ordinary;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help") {
      std::printf(
          "mdevsim-calibration-fit --table vmware-vsphere70-v100: the table's rows as \"x y\"\n"
          "mdevsim-calibration-fit [--weighting ordinary|relative] < rows: the least-squares\n"
          "line y = intercept + slope*x as JSON (sim/calibration/line_fit.h)\n");
      return 0;
    }
    if (i + 1 >= argc) return usage(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--table") {
      const StunTimeTable& t = vmware_vsphere70_v100_stun_times();
      if (value != t.name)
        return usage("--table: unknown table '" + value + "' (known: " + std::string(t.name) + ")");
      for (const StunTimeRow& r : t.rows)
        std::printf("%g %g\n", r.used_framebuffer_gb, r.stun_time_s);
      return 0;
    }
    if (arg == "--weighting") {
      if (value == "ordinary")
        weighting = FitWeighting::ordinary;
      else if (value == "relative")
        weighting = FitWeighting::relative;
      else
        return usage("--weighting: '" + value + "' is not ordinary or relative");
      continue;
    }
    return usage("unknown option " + arg);
  }
  std::vector<double> x, y;
  std::string line;
  for (int n = 1; std::getline(std::cin, line); ++n) {
    std::istringstream in(line);
    double a, b;
    std::string rest;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!(in >> a >> b) || (in >> rest))
      return usage("stdin line " + std::to_string(n) + ": expected two numbers \"x y\", got '" +
                   line + "'");
    x.push_back(a);
    y.push_back(b);
  }
  try {
    const LineFit fit = fit_line(x, y, weighting);
    std::printf("{\"slope\": %.17g, \"intercept\": %.17g, \"relative_error\": [", fit.slope,
                fit.intercept);
    for (size_t i = 0; i < fit.relative_error.size(); ++i)
      std::printf("%s%.17g", i ? ", " : "", fit.relative_error[i]);
    std::printf("], \"max_abs_relative_error\": %.17g}\n", fit.max_abs_relative_error);
  } catch (const std::invalid_argument& e) {
    return usage(e.what());
  }
  return 0;
}
