// mdevsim fsm PROTOCOL [--features LIST] [--table] [--path FROM TO] [--dot] [--json]
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/commands.h"
#include "mdevsim/vfio/mig_fsm.h"

namespace mdevsim::sim {

namespace {

using vfio::MigState;

constexpr const char* kFsmHelp = R"(Usage: mdevsim fsm PROTOCOL [options]

Prints a migration protocol's state machine. PROTOCOL is v1 or v2.

Options:
  --features LIST   v2 feature set, comma separated from stop_copy, p2p, pre_copy
                    (default: stop_copy,p2p,pre_copy; stop_copy is mandatory)
  --table           the next-step table: the first state a SET from row to
                    column moves to (v2), or whether a write is accepted (v1)
  --path FROM TO    the states a SET walks through, or the errno and why
  --dot             Graphviz of the states and single arcs
  --json            machine-readable output for any of the above
  --help            this text

Examples:
  mdevsim fsm v2 --path RUNNING STOP_COPY
  mdevsim fsm v2 --features stop_copy --table
  mdevsim fsm v2 --dot | dot -Tsvg > v2.svg
)";

std::vector<MigState> states_of(uint64_t flags) {
  std::vector<MigState> out;
  for (uint32_t i = 1; i < vfio::kMigStateCount; ++i)
    if (vfio::state_supported(static_cast<MigState>(i), flags))
      out.push_back(static_cast<MigState>(i));
  return out;
}

int fsm_v2(uint64_t flags, bool table, const std::string& from, const std::string& to, bool dot,
           bool json) {
  const auto states = states_of(flags);
  if (!from.empty()) {
    const auto a = vfio::parse_state(from), b = vfio::parse_state(to);
    if (!a || !b) {
      std::cerr << "mdevsim fsm: unknown state '" << (!a ? from : to)
                << "' (states: ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY "
                   "PRE_COPY_P2P)\n";
      return 2;
    }
    const auto p = vfio::find_path(*a, *b, flags);
    std::string why;
    if (p.err) {
      if (!vfio::state_supported(*b, flags))
        why = *b == MigState::kError
                  ? "ERROR cannot be requested"
                  : std::string(vfio::state_name(*b)) + " is not advertised with features " +
                        vfio::features_name(flags);
      else if (!vfio::state_supported(*a, flags))
        why = std::string(vfio::state_name(*a)) + " is not a state of this device";
      else
        why =
            std::string(vfio::state_name(*a)) + " -> " + vfio::state_name(*b) + " is a blocked arc";
    }
    if (json) {
      nlohmann::ordered_json j;
      j["from"] = vfio::state_name(*a);
      j["to"] = vfio::state_name(*b);
      j["features"] = vfio::features_name(flags);
      if (p.err) {
        j["errno"] = "EINVAL";
        j["reason"] = why;
      } else {
        j["errno"] = nullptr;
        auto arr = nlohmann::ordered_json::array();
        for (auto s : p.states) arr.push_back(vfio::state_name(s));
        j["path"] = arr;
      }
      std::cout << j.dump() << "\n";
    } else if (p.err) {
      std::cout << "EINVAL: " << why << "\n";
    } else {
      for (size_t i = 0; i < p.states.size(); ++i)
        std::cout << (i ? " -> " : "") << vfio::state_name(p.states[i]);
      std::cout << "\n";
      for (size_t i = 0; i + 1 < p.states.size(); ++i) {
        const auto arc = vfio::find_arc(p.states[i], p.states[i + 1], flags);
        std::cout << "  " << vfio::state_name(p.states[i]) << " -> "
                  << vfio::state_name(p.states[i + 1]) << ": "
                  << (arc ? vfio::session_effect_name(arc->effect) : "?") << "\n";
      }
    }
    return 0;  // the query was answered, whatever the answer
  }
  if (table) {
    if (json) {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      for (auto a : states)
        for (auto b : states) {
          MigState n;
          j[vfio::state_name(a)][vfio::state_name(b)] =
              a == b ? vfio::state_name(a)
                     : (vfio::next_state(a, b, flags, n) ? "EINVAL" : vfio::state_name(n));
        }
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::printf("%-13s", "cur \\ new");
    for (auto b : states) std::printf(" %-13s", vfio::state_name(b));
    std::printf("\n");
    for (auto a : states) {
      std::printf("%-13s", vfio::state_name(a));
      for (auto b : states) {
        MigState n;
        const char* cell =
            a == b ? "-" : (vfio::next_state(a, b, flags, n) ? "EINVAL" : vfio::state_name(n));
        std::printf(" %-13s", cell);
      }
      std::printf("\n");
    }
    return 0;
  }
  const auto arcs = vfio::arcs_for(flags);
  if (dot) {
    std::cout << "digraph vfio_v2 {\n  label=\"VFIO migration v2 (" << vfio::features_name(flags)
              << ")\";\n"
              << "  node [shape=box, style=rounded];\n  RUNNING [peripheries=2];\n";
    for (auto s : states)
      if (vfio::in_saving_group(s) || s == MigState::kResuming)
        std::cout << "  " << vfio::state_name(s)
                  << " [style=\"rounded,filled\", fillcolor=\"#dde8ff\"];\n";
    for (const auto& a : arcs) {
      std::cout << "  " << vfio::state_name(a.from) << " -> " << vfio::state_name(a.to);
      if (a.effect != vfio::SessionEffect::kNone)
        std::cout << " [label=\"" << vfio::session_effect_name(a.effect) << "\"]";
      std::cout << ";\n";
    }
    std::cout << "}\n";
    return 0;
  }
  if (json) {
    nlohmann::ordered_json j;
    j["protocol"] = "v2";
    j["features"] = vfio::features_name(flags);
    auto st = nlohmann::ordered_json::array();
    for (auto s : states) st.push_back(vfio::state_name(s));
    j["states"] = st;
    auto ar = nlohmann::ordered_json::array();
    for (const auto& a : arcs)
      ar.push_back({{"from", vfio::state_name(a.from)},
                    {"to", vfio::state_name(a.to)},
                    {"data_session", vfio::session_effect_name(a.effect)}});
    j["arcs"] = ar;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "VFIO migration protocol v2, features " << vfio::features_name(flags)
            << "\n\nstates:";
  for (auto s : states) std::cout << " " << vfio::state_name(s);
  std::cout << " (and ERROR, which only a failure enters and only VFIO_DEVICE_RESET "
               "leaves)\n\nsingle arcs:\n";
  for (const auto& a : arcs)
    std::cout << "  " << vfio::state_name(a.from) << " -> " << vfio::state_name(a.to)
              << (a.effect == vfio::SessionEffect::kNone
                      ? ""
                      : std::string("   (") + vfio::session_effect_name(a.effect) + ")")
              << "\n";
  std::cout << "\nAny other pair is a combination transition: see --table and --path.\n";
  return 0;
}

int fsm_v1(bool table, const std::string& from, const std::string& to, bool dot, bool json) {
  if (!from.empty()) {
    const auto a = vfio::v1::parse(from), b = vfio::v1::parse(to);
    if (!a || !b) {
      std::cerr << "mdevsim fsm: not a v1 state: '" << (!a ? from : to)
                << "' (use 011b, 3 or RUNNING|SAVING)\n";
      return 2;
    }
    const int err = vfio::v1::check_transition(*a, *b, false);
    const std::string why =
        err ? (vfio::v1::is_error(*a) ? "the error state 110b is left only by VFIO_DEVICE_RESET"
                                      : vfio::v1::bits(*b) + " is " + vfio::v1::meaning(*b))
            : "one write of device_state";
    if (json) {
      nlohmann::ordered_json j = {
          {"from", vfio::v1::bits(*a)},
          {"to", vfio::v1::bits(*b)},
          {"errno", err ? nlohmann::ordered_json("EINVAL") : nlohmann::ordered_json(nullptr)},
          {"reason", why}};
      std::cout << j.dump() << "\n";
    } else {
      std::cout << (err ? "EINVAL: " : vfio::v1::bits(*a) + " -> " + vfio::v1::bits(*b) + ": ")
                << why << "\n";
    }
    return 0;
  }
  if (dot) {
    std::cout << "digraph vfio_v1 {\n  node [shape=box, style=rounded];\n";
    const char* flows[][2] = {{"001b", "000b"}, {"001b", "010b"}, {"010b", "000b"},
                              {"001b", "011b"}, {"011b", "010b"}, {"001b", "100b"},
                              {"100b", "001b"}};
    for (auto& f : flows) std::cout << "  \"" << f[0] << "\" -> \"" << f[1] << "\";\n";
    std::cout << "  \"110b\" [style=filled, fillcolor=\"#ffdddd\", label=\"110b error\"];\n}\n";
    return 0;
  }
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  if (!json)
    std::cout << "VFIO migration protocol v1: device_state bits _RESUMING _SAVING _RUNNING\n\n";
  for (uint32_t s = 0; s < 8; ++s) {
    if (json) {
      j.push_back({{"bits", vfio::v1::bits(s)},
                   {"value", s},
                   {"valid", vfio::v1::valid(s)},
                   {"error", vfio::v1::is_error(s)},
                   {"meaning", vfio::v1::meaning(s)}});
    } else {
      std::cout << "  " << vfio::v1::bits(s) << "  " << vfio::v1::meaning(s) << "\n";
    }
  }
  if (json)
    std::cout << j.dump(2) << "\n";
  else if (table) {
    std::cout << "\nwrite accepted (permissive rule) from row to column:\n      ";
    for (uint32_t b = 0; b < 8; ++b) std::cout << vfio::v1::bits(b) << " ";
    std::cout << "\n";
    for (uint32_t a = 0; a < 8; ++a) {
      std::cout << vfio::v1::bits(a) << "  ";
      for (uint32_t b = 0; b < 8; ++b)
        std::cout << (vfio::v1::check_transition(a, b, false) ? "  -  " : " yes ");
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace

int cmd_fsm(int argc, char** argv) {
  std::string protocol, features = "stop_copy,p2p,pre_copy", from, to;
  bool table = false, dot = false, json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kFsmHelp;
      return 0;
    } else if (a == "--features" && i + 1 < argc) {
      features = argv[++i];
    } else if (a == "--table") {
      table = true;
    } else if (a == "--dot") {
      dot = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--path" && i + 2 < argc) {
      from = argv[++i];
      to = argv[++i];
    } else if (!a.empty() && a[0] != '-' && protocol.empty()) {
      protocol = a;
    } else {
      std::cerr << "mdevsim fsm: unexpected argument '" << a << "' (see mdevsim fsm --help)\n";
      return 2;
    }
  }
  if (protocol == "v1") return fsm_v1(table, from, to, dot, json);
  if (protocol != "v2") {
    std::cerr << "mdevsim fsm: PROTOCOL must be v1 or v2"
              << (protocol.empty() ? "" : ", not '" + protocol + "'")
              << " (protocol files are not supported yet)\n";
    return 2;
  }
  const auto flags = vfio::parse_features(features);
  if (!flags || !(*flags & 1)) {
    std::cerr << "mdevsim fsm: --features '" << features
              << "' must list stop_copy and optionally p2p, pre_copy (comma separated)\n";
    return 2;
  }
  return fsm_v2(*flags, table, from, to, dot, json);
}

}  // namespace mdevsim::sim
