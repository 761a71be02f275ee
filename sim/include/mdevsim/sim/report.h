// The HTML report of one run (`mdevsim run --report FILE`): a single
// self-contained file (inline CSS, inline SVG, a few lines of JS for hover
// tooltips; nothing fetched from the network) drawn from the Result and the
// RunLog. Sections and what they show are described in docs/report.md.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "mdevsim/sim/protocol_drawing.h"
#include "mdevsim/sim/result.h"
#include "mdevsim/sim/run_log.h"

namespace mdevsim::sim {

// What the Result and the RunLog do not carry: the run's settings and the
// protocol's state machine, for the header, the downtime bar and the diagram.
struct ReportContext {
  std::string scenario;               // empty: Result::scenario
  std::string protocol;               // "v1", "v2" or a protocol file's name
  std::vector<std::string> features;  // v2 feature names ("stop_copy", "p2p", ...)
  double downtime_limit_s = 0;        // <= 0: unknown (no limit drawn)
  double link_bandwidth = 0;          // bytes/s; <= 0: unknown

  struct State {
    std::string name;  // as RunLog::StateVisit::state spells it ("PRE_COPY", "011b")
    std::string note;  // tooltip ("pre-copy (_SAVING|_RUNNING)"); may be empty
  };
  struct Arc {
    std::string from, to;
    std::string label;  // e.g. the data-session effect; may be empty
  };
  // The diagram's states and single arcs. States the run visited but that
  // are missing here are added to the drawing, so a caller may leave both
  // empty (the diagram then shows only the path taken).
  std::vector<State> states;
  std::vector<Arc> arcs;

  // Any protocol as protocol_drawing.h draws it: its name, the features of
  // the drawing's flags, the states in migration order (each noted with its
  // meaning in the file style) and the single arcs labelled in the drawing's
  // words.
  static ReportContext from_drawing(const ProtocolDrawing& drawing);
  // Protocol v2 (the shipped v2.json) for a device advertising `flags`
  // (VFIO_MIGRATION_*), in the kernel's words: from_drawing of it.
  static ReportContext from_v2(uint64_t flags);
  // Protocol v1: the device_state encodings 000b..100b and 110b (error), and
  // the writes the strict (libvfio-user) table accepts between them.
  static ReportContext from_v1();
};

void write_html_report(const Result& result, const RunLog& log, const ReportContext& ctx,
                       std::ostream& out);

}  // namespace mdevsim::sim
