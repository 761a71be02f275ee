// One way to draw a migration protocol, for any protocol file
// (vfio::ProtocolSpec: v2, v1 or a proposal): the states a device
// advertising some feature flags has, its single arcs labelled with what they
// do to the data session, an order around the run for the report's circle,
// and Graphviz. `mdevsim fsm` and the run report (ReportContext::from_drawing)
// both draw through here, so a renamed or renumbered protocol draws its own
// names the same way v2 draws its.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim {

// Whose words a drawing speaks.
enum class ProtocolStyle {
  kFile,    // a protocol file's own: session "open_save", every state's attributes
  kKernel,  // the kernel uAPI's: "opens a save data fd" (`mdevsim fsm v2`, v2 run reports)
};

// What an arc does to the data session, in a style's words ("none" for no session).
const char* session_words(vfio::ArcSession s, ProtocolStyle style);

struct ProtocolDrawing {
  struct State {
    size_t index = 0;  // into the spec's states
    std::string name, meaning;
    uint32_t value = 0, attrs = 0;
    vfio::DataRule data = vfio::DataRule::kNone;
  };
  struct Arc {
    size_t from = 0, to = 0;  // into the spec's states
    std::string from_name, to_name;
    vfio::ArcSession session = vfio::ArcSession::kNone;
    std::string label;  // session_words(session); empty when the arc has no session
  };

  const vfio::ProtocolSpec* spec = nullptr;
  ProtocolStyle style = ProtocolStyle::kFile;
  uint64_t flags = 0;
  std::string features;       // spec->features_name(flags): "stop_copy,p2p"
  std::vector<State> states;  // the device's states in the file's order (never the error state)
  std::vector<Arc> arcs;      // the single arcs it implements, in the file's order
  std::optional<std::string> error_state;  // entered only by a failed arc

  // `states` around a migration: the default state, pre-copy, stop-and-copy
  // (and serving), stopped, resuming, then the other running states; ties
  // keep the file's order. Decided by the states' attributes alone.
  std::vector<const State*> in_migration_order() const;
};

// The drawing of `p` for a device advertising `flags` (the spec outlives it).
ProtocolDrawing draw_protocol(const vfio::ProtocolSpec& p, uint64_t flags, ProtocolStyle style);

// Graphviz of the states and single arcs. kFile: every state quoted, with its
// attributes; kKernel: `digraph vfio_<name>`, bare names, only the states
// that carry a style (default, data session, serving).
void write_dot(const ProtocolDrawing& d, std::ostream& out);

}  // namespace mdevsim::sim
