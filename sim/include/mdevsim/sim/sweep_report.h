// What `mdevsim sweep` writes from its recorded points: the cross-product
// arithmetic, the results.csv table and the self-contained report.html.
// The record of one point is its results.jsonl line (docs/sweep.md).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::sim {

// One --vary: a dotted scenario path and the values it takes, in order.
struct SweepAxis {
  std::string path;
  std::vector<std::string> values;
};

// Number of points in the cross product (0 when an axis has no values).
size_t sweep_point_count(const std::vector<SweepAxis>& axes);

// Value index per axis of point `index`; the first axis varies slowest.
std::vector<size_t> sweep_coordinates(const std::vector<SweepAxis>& axes, size_t index);

// Point index of the given coordinates (inverse of sweep_coordinates).
size_t sweep_index(const std::vector<SweepAxis>& axes, const std::vector<size_t>& coordinates);

// results.csv: header plus one row per line, in the order given (callers
// pass the lines sorted by point).
std::string sweep_csv(const std::vector<SweepAxis>& axes,
                      const std::vector<nlohmann::ordered_json>& lines);

// report.html: per varied parameter, charts of downtime, total time and
// bytes against its values (one line per combination of the others), then
// the table of every point. No scripts, no network.
std::string sweep_html(const std::string& scenario_name, const std::string& scenario_path,
                       const std::vector<SweepAxis>& axes,
                       const std::vector<nlohmann::ordered_json>& lines);

}  // namespace mdevsim::sim
