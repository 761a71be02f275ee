#include "mdevsim/calibration/line_fit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mdevsim::calibration {
namespace {

void check_rows(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size()) throw std::invalid_argument("line fit: x and y differ in length");
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw std::invalid_argument("line fit: row " + std::to_string(i) + " is not finite");
    if (y[i] == 0)
      throw std::invalid_argument("line fit: row " + std::to_string(i) +
                                  " has y = 0 (relative error undefined)");
  }
}

}  // namespace

std::vector<double> relative_errors(double slope, double intercept, std::span<const double> x,
                                    std::span<const double> y) {
  check_rows(x, y);
  std::vector<double> errors;
  errors.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) errors.push_back((intercept + slope * x[i] - y[i]) / y[i]);
  return errors;
}

LineFit fit_line(std::span<const double> x, std::span<const double> y, FitWeighting weighting) {
  check_rows(x, y);
  if (x.size() < 2) throw std::invalid_argument("line fit: needs at least two rows");
  // Weighted normal equations, centred on the weighted means for accuracy.
  double sw = 0, swx = 0, swy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = weighting == FitWeighting::relative ? 1 / (y[i] * y[i]) : 1;
    sw += w;
    swx += w * x[i];
    swy += w * y[i];
  }
  const double mx = swx / sw, my = swy / sw;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = weighting == FitWeighting::relative ? 1 / (y[i] * y[i]) : 1;
    sxx += w * (x[i] - mx) * (x[i] - mx);
    sxy += w * (x[i] - mx) * (y[i] - my);
  }
  if (sxx == 0) throw std::invalid_argument("line fit: all x are equal");
  LineFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  fit.relative_error = relative_errors(fit.slope, fit.intercept, x, y);
  for (double e : fit.relative_error)
    fit.max_abs_relative_error = std::max(fit.max_abs_relative_error, std::abs(e));
  return fit;
}

}  // namespace mdevsim::calibration
