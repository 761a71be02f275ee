// What `mdevsim sweep` writes from its recorded points: the results.csv
// table and the self-contained report.html. The record of one point is its
// results.jsonl line (docs/sweep.md).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/sweep/plan.h"

namespace mdevsim::sweep {

// results.csv: header plus one row per line, in the order given (callers
// pass the lines sorted by point).
std::string csv(const std::vector<Axis>& axes, const std::vector<nlohmann::ordered_json>& lines);

// report.html: per varied parameter, charts of downtime (with the downtime
// limit dashed), total time and bytes against its values (one line per
// combination of the others), then the table of every point. No scripts,
// no network. downtime_limits_s holds each point's limit (empty: not drawn).
std::string html(const std::string& scenario_name, const std::string& scenario_path,
                 const std::vector<Axis>& axes, const std::vector<nlohmann::ordered_json>& lines,
                 const std::vector<double>& downtime_limits_s = {});

}  // namespace mdevsim::sweep
