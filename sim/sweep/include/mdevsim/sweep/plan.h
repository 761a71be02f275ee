// The plan of a sweep: the cross product of the --vary values over one
// scenario with the sweep's --set list, the --set list and params of each
// point, and the definition (sweep.json) a resume is checked against.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/cli_options.h"

namespace mdevsim::sweep {

using ojson = nlohmann::ordered_json;

// Bad input: reported as "mdevsim sweep: ..." with exit code 2.
using UsageError = sim::cli::UsageError;

// One --vary: a dotted scenario path and the values it takes, in order.
struct Axis {
  std::string path;
  std::vector<std::string> values;
};

// Number of points in the cross product (0 when there is no axis).
size_t point_count(const std::vector<Axis>& axes);

// Value index per axis of point `index`; the first axis varies slowest.
std::vector<size_t> coordinates(const std::vector<Axis>& axes, size_t index);

// Point index of the given coordinates (inverse of coordinates()).
size_t index_of(const std::vector<Axis>& axes, const std::vector<size_t>& coordinates);

// "PATH=V1,V2" → axis; commas inside brackets, braces or quotes do not split.
Axis parse_vary(const std::string& text);

struct Plan {
  std::string scenario_path;
  std::vector<std::string> overrides;  // --set, for every point
  std::vector<Axis> axes;              // --vary, in order

  size_t points() const { return point_count(axes); }
  // The --set list of one point: the sweep's --set first, then its --vary values.
  std::vector<std::string> point_overrides(size_t point) const;
  // {PATH: VALUE} of the point's --vary values (results.jsonl "params").
  ojson point_params(size_t point) const;
};

// Loads every point in-process so that a bad value fails before anything
// runs (UsageError naming the --vary).
struct Validated {
  std::string name;                       // the scenario's (of point 0)
  std::vector<double> downtime_limits_s;  // per point, for the report
};
Validated validate_points(const Plan& plan);

// sweep.json: scenario (absolute), a fingerprint of its content, --set, --vary.
ojson definition_of(const Plan& plan);

// What differs between a stored definition and this sweep's, for the refusal.
std::string definition_difference(const ojson& stored, const ojson& wanted);

}  // namespace mdevsim::sweep
