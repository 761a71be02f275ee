#include "mdevsim/calibration/fluid_precopy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mdevsim::calibration {
namespace {

void require(bool ok, const char* field, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("fluid pre-copy: ") + field + " " + what);
}

}  // namespace

FluidPrecopyResult fluid_precopy(const FluidPrecopyInput& in) {
  auto finite_nonneg = [](double v) { return std::isfinite(v) && v >= 0; };
  require(finite_nonneg(in.resident_bytes), "resident_bytes", "must be a finite number >= 0");
  require(finite_nonneg(in.dirty_rate_Bps), "dirty_rate_Bps", "must be a finite number >= 0");
  require(std::isfinite(in.bandwidth_Bps) && in.bandwidth_Bps > 0, "bandwidth_Bps",
          "must be a finite number > 0");
  require(finite_nonneg(in.downtime_limit_s), "downtime_limit_s", "must be a finite number >= 0");
  require(in.max_passes >= 0, "max_passes", "must be >= 0 (0 = no cap)");
  require(!std::isnan(in.working_set_bytes) && in.working_set_bytes >= 0, "working_set_bytes",
          "must be >= 0 (infinity = no cap)");
  require(finite_nonneg(in.switchover_fixed_s), "switchover_fixed_s",
          "must be a finite number >= 0");

  const double rate = in.bandwidth_Bps;
  const double threshold = rate * in.downtime_limit_s;  // bytes stop-copy may send
  FluidPrecopyResult out;
  double to_send = in.resident_bytes;  // pass 0 always runs, as in SimGrid's stage 1
  double previous_remaining = std::numeric_limits<double>::infinity();
  for (;;) {
    const FluidPass pass{to_send, to_send / rate};
    out.passes.push_back(pass);
    out.precopy_time_s += pass.duration_s;
    out.total_bytes += pass.bytes;
    const double remaining = std::min(in.dirty_rate_Bps * pass.duration_s, in.working_set_bytes);
    out.stop_copy_bytes = remaining;
    if (remaining <= threshold) {  // SimGrid: while (threshold < remaining)
      out.stop = FluidStop::converged;
      break;
    }
    if (in.max_passes > 0 && static_cast<int>(out.passes.size()) >= in.max_passes) {
      out.stop = FluidStop::pass_limit;
      break;
    }
    // No cap, above the threshold and not shrinking (D >= R, or the
    // working-set cap holds it): every later pass is the same or larger.
    if (in.max_passes == 0 && out.passes.size() > 1 && remaining >= previous_remaining) {
      out.stop = FluidStop::diverges;
      break;
    }
    previous_remaining = remaining;
    to_send = remaining;
  }
  out.downtime_s = out.stop_copy_bytes / rate + in.switchover_fixed_s;
  if (out.stop == FluidStop::diverges) {
    out.total_time_s = std::numeric_limits<double>::infinity();
  } else {
    out.total_time_s = out.precopy_time_s + out.downtime_s;
    out.total_bytes += out.stop_copy_bytes;
  }
  return out;
}

const char* to_string(FluidStop stop) {
  switch (stop) {
    case FluidStop::converged:
      return "converged";
    case FluidStop::pass_limit:
      return "pass_limit";
    case FluidStop::diverges:
      return "diverges";
  }
  return "?";
}

}  // namespace mdevsim::calibration
