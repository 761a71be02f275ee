#include "mdevsim/sim/protocol_drawing.h"

#include <algorithm>
#include <cctype>
#include <ostream>

namespace mdevsim::sim {

namespace {

using vfio::ArcSession;

// A Graphviz ID: bare when it is one (v2's names are), quoted otherwise ("011b").
std::string dot_id(const std::string& name, bool always_quote) {
  const bool bare = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                    });
  if (bare && !always_quote) return name;
  std::string q = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// Around a migration: where the run goes first comes first.
int migration_rank(const ProtocolDrawing::State& s) {
  const bool running = s.attrs & vfio::kAttrRunning, saving = s.attrs & vfio::kAttrSaving,
             resuming = s.attrs & vfio::kAttrResuming;
  if (s.attrs & vfio::kAttrDefault) return 0;
  if (running && saving) return 1;                         // pre-copy
  if (saving || (s.attrs & vfio::kAttrServing)) return 2;  // stop-and-copy, serving
  if (!running && !resuming) return 3;                     // stopped: the hub
  if (resuming && !running) return 4;
  return 5;  // running otherwise (P2P quiesced, running while resuming)
}

}  // namespace

const char* session_words(ArcSession s, ProtocolStyle style) {
  if (style == ProtocolStyle::kFile) return vfio::arc_session_name(s);
  switch (s) {
    case ArcSession::kNone:
      return "none";
    case ArcSession::kOpenSave:
      return "opens a save data fd";
    case ArcSession::kOpenResume:
      return "opens a resume data fd";
    case ArcSession::kKeep:
      return "keeps the save data fd";
    case ArcSession::kEndSave:
      return "ends the save session";
    case ArcSession::kEndResume:
      return "ends the resume session (loads and validates)";
    case ArcSession::kServe:
      return "stops the device; the save data fd serves pages";
    case ArcSession::kCommitKeep:
      return "applies what arrived, keeps the resume data fd";
    case ArcSession::kRestart:
      return "ends one session and opens the other";
  }
  return "?";
}

std::vector<const ProtocolDrawing::State*> ProtocolDrawing::in_migration_order() const {
  std::vector<const State*> order;
  for (const auto& s : states) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const State* a, const State* b) {
    return migration_rank(*a) < migration_rank(*b);
  });
  return order;
}

ProtocolDrawing draw_protocol(const vfio::ProtocolSpec& p, uint64_t flags, ProtocolStyle style) {
  ProtocolDrawing d;
  d.spec = &p;
  d.style = style;
  d.flags = flags;
  d.features = p.features_name(flags);
  for (size_t i = 0; i < p.states.size(); ++i)
    if (p.supported(i, flags)) {
      const auto& st = p.states[i];
      d.states.push_back({i, st.name, st.meaning, st.value, st.attrs, st.data});
    }
  for (const auto* a : p.arcs_for(flags))
    d.arcs.push_back({a->from, a->to, p.states[a->from].name, p.states[a->to].name, a->session,
                      a->session == ArcSession::kNone ? "" : session_words(a->session, style)});
  if (p.error_state) d.error_state = p.states[*p.error_state].name;
  return d;
}

void write_dot(const ProtocolDrawing& d, std::ostream& out) {
  const bool file = d.style == ProtocolStyle::kFile;
  const std::string& name = d.spec->name;
  if (file) {
    out << "digraph " << dot_id(name, true) << " {\n  label=\"" << name << " (" << d.features
        << ")\";\n";
  } else {
    std::string graph = "vfio_" + name;
    for (char& c : graph)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    out << "digraph " << graph << " {\n  label=\"VFIO migration " << name << " (" << d.features
        << ")\";\n";
  }
  out << "  node [shape=box, style=rounded];\n";
  auto fill = [](const ProtocolDrawing::State& st) -> const char* {
    if (st.attrs & vfio::kAttrServing) return " [style=\"rounded,filled\", fillcolor=\"#ffe8cc\"]";
    if (st.data != vfio::DataRule::kNone)
      return " [style=\"rounded,filled\", fillcolor=\"#dde8ff\"]";
    return "";
  };
  // kKernel: the default state first, then only the states that carry a style.
  if (!file)
    for (const auto& st : d.states)
      if (st.attrs & vfio::kAttrDefault)
        out << "  " << dot_id(st.name, false) << " [peripheries=2];\n";
  for (const auto& st : d.states) {
    const bool is_default = st.attrs & vfio::kAttrDefault;
    const char* style = is_default ? " [peripheries=2]" : fill(st);
    if (!file && (is_default || !*style)) continue;
    out << "  " << dot_id(st.name, file) << style << ";\n";
  }
  for (const auto& a : d.arcs) {
    out << "  " << dot_id(a.from_name, file) << " -> " << dot_id(a.to_name, file);
    if (!a.label.empty()) out << " [label=\"" << a.label << "\"]";
    out << ";\n";
  }
  out << "}\n";
}

}  // namespace mdevsim::sim
