// Least-squares line fits y ~ intercept + slope * x, and how far each row is
// from the line. Two weightings: ordinary (minimise the sum of squared
// errors) and relative (minimise the sum of squared relative errors, weight
// 1/y^2), which is the one to use when rows are judged by relative error.
#pragma once

#include <span>
#include <vector>

namespace mdevsim::calibration {

enum class FitWeighting { ordinary, relative };

struct LineFit {
  double slope = 0;
  double intercept = 0;
  // (intercept + slope * x - y) / y per row, in input order.
  std::vector<double> relative_error;
  double max_abs_relative_error = 0;
};

// Throws std::invalid_argument when the spans differ in length, hold fewer
// than two rows, all x are equal, a value is not finite, or a y is 0 (its
// relative error is undefined).
LineFit fit_line(std::span<const double> x, std::span<const double> y,
                 FitWeighting weighting = FitWeighting::ordinary);

// The relative errors of a given line against the rows (the same definition
// as LineFit::relative_error), e.g. for a simulator's line against a table.
std::vector<double> relative_errors(double slope, double intercept, std::span<const double> x,
                                    std::span<const double> y);

}  // namespace mdevsim::calibration
