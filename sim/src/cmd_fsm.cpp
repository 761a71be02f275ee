// mdevsim fsm PROTOCOL [--features LIST] [--table] [--path FROM TO] [--dot] [--json]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/cli_options.h"
#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/feature_list.h"
#include "mdevsim/sim/protocol_drawing.h"
#include "mdevsim/vfio/mig_fsm.h"
#include "mdevsim/vfio/protocol.h"

namespace mdevsim::sim {

namespace {

constexpr const char* kFsmHelp = R"(Usage: mdevsim fsm PROTOCOL [options]

Prints a migration protocol's state machine. PROTOCOL is v1, v2, a shipped
proposal (v1-postcopy-101b, v2-postcopy, v2-postcopy-poll, v2-postcopy-ram-only)
or the path of a protocol file (format: docs/protocols.md). A file is validated
first; an invalid one is reported with the state or arc at fault (exit 2).

Options:
  --features LIST   feature set, comma separated (v2: stop_copy, p2p, pre_copy;
                    default: every feature the protocol defines)
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
  mdevsim fsm v2-postcopy --path PRE_COPY POSTCOPY_SERVE
  mdevsim fsm scenarios/protocols/v1-postcopy-101b.json --table
)";

// --path FROM TO: the states a SET walks through, or EINVAL and why.
int fsm_path(const vfio::ProtocolSpec& p, uint64_t flags, ProtocolStyle style,
             const std::string& from, const std::string& to, bool json) {
  auto name = [&](size_t i) { return p.states[i].name; };
  const auto a = p.find(from), b = p.find(to);
  if (!a || !b) {
    std::string names;
    for (const auto& st : p.states) names += " " + st.name;
    std::cerr << "mdevsim fsm: unknown state '" << (!a ? from : to) << "' (states:" << names
              << ")\n";
    return 2;
  }
  const auto path = p.path(*a, *b, flags);
  std::string why;
  if (path.err) {
    if (!p.supported(*b, flags))
      why = (p.states[*b].attrs & vfio::kAttrError)
                ? name(*b) + " cannot be requested"
                : name(*b) + " is not advertised with features " + p.features_name(flags);
    else if (!p.supported(*a, flags))
      why = name(*a) + " is not a state of this device";
    else if (p.combination == vfio::ProtocolSpec::Combination::kDirect)
      why = name(*a) + " -> " + name(*b) + " is not an accepted write";
    else
      why = name(*a) + " -> " + name(*b) + " is a blocked arc";
  }
  if (json) {
    nlohmann::ordered_json j;
    if (style == ProtocolStyle::kFile) j["protocol"] = p.name;
    j["from"] = name(*a);
    j["to"] = name(*b);
    j["features"] = p.features_name(flags);
    if (path.err) {
      j["errno"] = "EINVAL";
      j["reason"] = why;
    } else {
      j["errno"] = nullptr;
      auto arr = nlohmann::ordered_json::array();
      for (size_t st : path.states) arr.push_back(name(st));
      j["path"] = arr;
    }
    std::cout << j.dump() << "\n";
    return 0;  // the query was answered, whatever the answer
  }
  if (path.err) {
    std::cout << "EINVAL: " << why << "\n";
    return 0;
  }
  for (size_t i = 0; i < path.states.size(); ++i)
    std::cout << (i ? " -> " : "") << name(path.states[i]);
  std::cout << "\n";
  for (size_t i = 0; i + 1 < path.states.size(); ++i) {
    const auto* arc = p.arc(path.states[i], path.states[i + 1], flags);
    std::cout << "  " << name(path.states[i]) << " -> " << name(path.states[i + 1]) << ": "
              << (arc ? session_words(arc->session, style) : "?") << "\n";
  }
  return 0;
}

// Any protocol, in its own words (a file) or the kernel's (v2): states,
// single arcs, the next-step table, paths, Graphviz.
int fsm_protocol(const vfio::ProtocolSpec& p, uint64_t flags, ProtocolStyle style, bool table,
                 const std::string& from, const std::string& to, bool dot, bool json) {
  const bool file = style == ProtocolStyle::kFile;
  const ProtocolDrawing d = draw_protocol(p, flags, style);
  auto name = [&](size_t i) { return p.states[i].name; };
  if (!from.empty()) return fsm_path(p, flags, style, from, to, json);
  if (table) {
    // Columns as wide as the longest name (at least the widths v2 and the
    // shipped files have always had).
    int width = file ? 17 : 13;
    for (const auto& st : d.states) width = std::max(width, static_cast<int>(st.name.size()) + 1);
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!json) {
      std::printf("%-*s", width, "cur \\ new");
      for (const auto& b : d.states) std::printf(" %-*s", width, b.name.c_str());
      std::printf("\n");
    }
    for (const auto& a : d.states) {
      if (!json) std::printf("%-*s", width, a.name.c_str());
      for (const auto& b : d.states) {
        size_t n = a.index;
        const std::string cell = a.index == b.index                        ? "-"
                                 : p.next_step(a.index, b.index, flags, n) ? "EINVAL"
                                                                           : name(n);
        if (json)
          j[a.name][b.name] = a.index == b.index ? a.name : cell;
        else
          std::printf(" %-*s", width, cell.c_str());
      }
      if (!json) std::printf("\n");
    }
    if (json) std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (dot) {
    write_dot(d, std::cout);
    return 0;
  }
  if (json) {
    nlohmann::ordered_json j;
    j["protocol"] = p.name;
    if (file) j["file"] = p.file;
    j["features"] = d.features;
    auto st = nlohmann::ordered_json::array();
    for (const auto& s : d.states)
      if (file)
        st.push_back({{"name", s.name},
                      {"value", s.value},
                      {"attributes", vfio::attrs_name(s.attrs)},
                      {"data", vfio::data_rule_name(s.data)}});
      else
        st.push_back(s.name);
    j["states"] = st;
    auto ar = nlohmann::ordered_json::array();
    for (const auto& a : d.arcs)
      ar.push_back({{"from", a.from_name},
                    {"to", a.to_name},
                    {"data_session", session_words(a.session, style)}});
    j["arcs"] = ar;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  if (file) {
    std::cout << p.name << ": " << p.description << "\n(" << p.file << ": valid; features "
              << d.features << ")\n\nstates:\n";
    for (const auto& st : d.states) {
      char v[32];
      if (p.encoding == vfio::ProtocolSpec::Encoding::kBits)
        std::snprintf(v, sizeof v, "%s", st.name.c_str());
      else
        std::snprintf(v, sizeof v, "%u", st.value);
      std::printf("  %-17s %-5s %-28s data %-15s %s\n", st.name.c_str(), v,
                  vfio::attrs_name(st.attrs).c_str(), vfio::data_rule_name(st.data),
                  st.meaning.c_str());
    }
    if (d.error_state)
      std::cout << "  (" << *d.error_state << ": entered only by a failed arc; left by reset)\n";
  } else {
    std::cout << "VFIO migration protocol " << p.name << ", features " << d.features
              << "\n\nstates:";
    for (const auto& st : d.states) std::cout << " " << st.name;
    if (d.error_state)
      std::cout << " (and " << *d.error_state
                << ", which only a failure enters and only VFIO_DEVICE_RESET leaves)";
    std::cout << "\n";
  }
  std::cout << "\nsingle arcs:\n";
  for (const auto& a : d.arcs)
    std::cout << "  " << a.from_name << " -> " << a.to_name
              << (a.label.empty() ? "" : "   (" + a.label + ")") << "\n";
  if (file && p.postcopy) {
    const auto& r = *p.postcopy;
    std::cout << "\npost-copy: "
              << (r.device_pages ? "device pages stay at the source until fetched"
                                 : "device stop-copied, RAM post-copied")
              << "; faults reach the VMM by " << r.fault_delivery << "\n";
  }
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

int fsm(int argc, char** argv) {
  std::string protocol, features = "stop_copy,p2p,pre_copy", from, to;
  bool table = false, dot = false, json = false, features_given = false;
  cli::ArgReader args(argc, argv, " (see mdevsim fsm --help)");
  while (args.next()) {
    if (args.help()) {
      std::cout << kFsmHelp;
      return 0;
    } else if (args.is("--features")) {
      if (!args.peek())
        throw cli::UsageError{"--features needs a list, e.g. --features stop_copy,p2p"};
      features = args.value();
      features_given = true;
    } else if (args.is("--table")) {
      table = true;
    } else if (args.is("--dot")) {
      dot = true;
    } else if (args.is("--json")) {
      json = true;
    } else if (args.is("--path")) {
      // Two states; a missing TO would otherwise read as "unexpected argument".
      if (!args.peek(2) || args.peek(2)[0] == '-')
        throw cli::UsageError{
            std::string("--path takes two states, FROM and TO (e.g. --path RUNNING STOP_COPY)") +
            (args.peek() ? std::string("; got only '") + args.peek() + "'" : "")};
      from = args.value();
      to = args.value();
    } else if (!args.word().empty() && !args.looks_like_option() && protocol.empty()) {
      protocol = args.word();
    } else {
      throw cli::UsageError{"unexpected argument '" + args.word() + "' (see mdevsim fsm --help)"};
    }
  }
  if (protocol == "v1") return fsm_v1(table, from, to, dot, json);
  if (protocol.empty()) {
    std::cerr << "mdevsim fsm: missing PROTOCOL (v1, v2, a proposal name or a file; see mdevsim "
                 "fsm --help)\n";
    return 2;
  }
  if (protocol != "v2") {
    vfio::ProtocolSpec p;
    try {
      p = vfio::resolve_protocol(protocol);
    } catch (const vfio::ProtocolError& e) {
      std::cerr << "mdevsim fsm: " << e.what() << "\n";
      return 2;
    }
    uint64_t flags = p.all_flags();
    if (features_given) {
      std::string why;
      const auto f = check_feature_list(p, features, why);
      if (!f) {
        std::cerr << "mdevsim fsm: --features " << features << ": " << why << "\n";
        return 2;
      }
      flags = *f;
    }
    return fsm_protocol(p, flags, ProtocolStyle::kFile, table, from, to, dot, json);
  }
  std::string why;
  const auto flags = check_feature_list(vfio::builtin_protocol_v2(), features, why);
  if (!flags) {
    std::cerr << "mdevsim fsm: --features " << features << ": " << why << "\n";
    return 2;
  }
  return fsm_protocol(vfio::builtin_protocol_v2(), *flags, ProtocolStyle::kKernel, table, from, to,
                      dot, json);
}

}  // namespace

int cmd_fsm(int argc, char** argv) {
  return cli::run_command("fsm", [&] { return fsm(argc, argv); });
}

}  // namespace mdevsim::sim
