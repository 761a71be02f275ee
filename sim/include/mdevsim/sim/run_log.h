// What happened during one run, in simulated time, for the outputs people
// look at: the ABI trace (--trace), the Perfetto/Chrome timeline (--timeline)
// and the HTML report (--report). The migration driver fills it only when one
// of those outputs was asked for (RunLog::enabled), so plain runs pay nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mdevsim/vfio/frontend.h"

namespace mdevsim::sim {

// One frontend call on either host, with the simulated time it was made.
struct AbiEvent {
  double t_s = 0;
  std::string host;  // "src" | "dst"
  vfio::CallRecord call;
};

// A span of simulated time on a named track. Tracks used by the driver:
//   "src migration", "dst migration"  phases: "setup", "iteration N",
//                                     "stop-and-copy", "resume", "post-copy"
//   "src device", "dst device"        device protocol state ("PRE_COPY", "011b")
//   "link"                            transfers ("RAM pages", "device data",
//                                     "page request", "background push")
//   "vm"                              "downtime" (exactly result.downtime_s long)
struct SpanEvent {
  std::string track;
  std::string name;
  double start_s = 0;
  double end_s = 0;
};

// A sampled value. Names used by the driver: "dirty pages" (RAM + VRAM pages
// dirty at a sync), "remaining bytes" (expected stop-and-copy size),
// "link bytes in flight", "faults" (post-copy, cumulative).
struct CounterSample {
  std::string name;
  double t_s = 0;
  double value = 0;
};

// A post-copy page fault: raised at t_s, served after stall_s.
struct PageFaultEvent {
  double t_s = 0;
  double stall_s = 0;
  std::string space;  // "vram" | "ram"
  uint64_t page = 0;
};

struct RunLog {
  bool enabled = false;
  std::string protocol;               // "v1", "v2" or a protocol file's name
  std::vector<std::string> features;  // v2 feature names
  std::vector<AbiEvent> abi;
  std::vector<SpanEvent> spans;
  std::vector<CounterSample> counters;
  std::vector<PageFaultEvent> faults;
  // States the source and destination device went through, in order, with the
  // time each was entered (for the report's "path taken").
  struct StateVisit {
    double t_s = 0;
    std::string host;
    std::string state;
  };
  std::vector<StateVisit> states;
  double switchover_s = -1;  // when the source VM stopped (-1: never)
};

}  // namespace mdevsim::sim
