// What the save handlers and the driver share during one migration: the
// scenario, the link, the result being filled, the recorder, why it failed,
// and the scheduled corruptions of bytes on the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"
#include "net/link.h"

namespace mdevsim::sim {
class RunRecorder;
}

namespace mdevsim::sim::vmm {

using net::now;
using net::wait_s;

struct MigrationContext {
  MigrationContext(const Scenario& s, net::Link& l, Result& r, RunRecorder* rec, bool exact_copy)
      : scenario(s), link(l), result(r), recorder(rec), exact(exact_copy) {}

  const Scenario& scenario;
  net::Link& link;
  Result& result;
  RunRecorder* recorder;
  bool exact;  // device bytes through read()/write() buffers, not splice

  std::string reason;
  std::string fail_outcome = "cancelled";  // "failed" once the device or the data failed
  bool switching = false;                  // the source VM has stopped for the switch
  bool switched = false;                   // the destination runs the VM
  bool device_corrupted = false;

  // Sets the first failure's reason; returns false for `return fail(...)`.
  bool fail(std::string why) {
    if (reason.empty()) reason = std::move(why);
    return false;
  }
  // The first unused corrupt fault on `target` whose time has come.
  std::optional<size_t> corruption_due(CorruptTarget target) const {
    if (switched) return std::nullopt;  // injected into pre-copy and stop-copy bytes only
    for (size_t i = 0; i < scenario.faults.size(); ++i) {
      const auto& f = scenario.faults[i];
      if (f.kind == FaultKind::kCorrupt && f.target == target && f.at_s <= now() &&
          !result.faults[i].applied)
        return i;
    }
    return std::nullopt;
  }
  // A corrupt fault on `target` still to come (whenever it is due).
  bool corruption_ahead(CorruptTarget target) const {
    if (switched) return false;
    for (size_t i = 0; i < scenario.faults.size(); ++i) {
      const auto& f = scenario.faults[i];
      if (f.kind == FaultKind::kCorrupt && f.target == target && !result.faults[i].applied)
        return true;
    }
    return false;
  }
  std::optional<size_t> take_corruption(CorruptTarget target) {
    const auto i = corruption_due(target);
    if (i) result.faults[*i].applied = true;
    return i;
  }
  // Why the destination refused device data (a corruption makes it "failed").
  std::string refused_stream(long err);
};

}  // namespace mdevsim::sim::vmm
