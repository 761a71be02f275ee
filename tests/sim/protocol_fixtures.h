// Independent expectations for protocol drawings: the kernel's table of
// v2's single arcs (shared/reference/vfio-migration-abi.md, section 3.6, as
// the uAPI comment states it), and a copy of v2.json in which every state
// has a new name and a new value.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdevsim::protocol_fixtures {

constexpr uint64_t kStopCopy = 1, kP2P = 2, kPreCopy = 4;

struct KernelArc {
  const char* from;
  const char* to;
  bool (*required)(uint64_t flags);
  const char* data_fd;  // the kernel's words for its effect on the data fd
};

inline bool always(uint64_t) { return true; }
inline bool no_p2p(uint64_t f) { return !(f & kP2P); }
inline bool p2p(uint64_t f) { return f & kP2P; }
inline bool pre_copy(uint64_t f) { return f & kPreCopy; }
inline bool pre_copy_no_p2p(uint64_t f) { return (f & kPreCopy) && !(f & kP2P); }
inline bool pre_copy_p2p(uint64_t f) { return (f & kPreCopy) && (f & kP2P); }

// Rows 1-18 of the table, with "required when" and "data_fd".
inline const std::vector<KernelArc>& kernel_arcs() {
  static const std::vector<KernelArc> arcs = {
      {"STOP", "STOP_COPY", always, "opens a save data fd"},
      {"STOP_COPY", "STOP", always, "ends the save session"},
      {"STOP", "RESUMING", always, "opens a resume data fd"},
      {"RESUMING", "STOP", always, "ends the resume session (loads and validates)"},
      {"RUNNING", "STOP", no_p2p, ""},
      {"STOP", "RUNNING", no_p2p, ""},
      {"RUNNING", "RUNNING_P2P", p2p, ""},
      {"RUNNING_P2P", "RUNNING", p2p, ""},
      {"RUNNING_P2P", "STOP", p2p, ""},
      {"STOP", "RUNNING_P2P", p2p, ""},
      {"RUNNING", "PRE_COPY", pre_copy, "opens a save data fd"},
      {"PRE_COPY", "RUNNING", pre_copy, "ends the save session"},
      {"PRE_COPY", "STOP_COPY", pre_copy_no_p2p, "keeps the save data fd"},
      {"PRE_COPY", "PRE_COPY_P2P", pre_copy_p2p, "keeps the save data fd"},
      {"PRE_COPY_P2P", "PRE_COPY", pre_copy_p2p, "keeps the save data fd"},
      {"PRE_COPY_P2P", "RUNNING_P2P", pre_copy_p2p, "ends the save session"},
      {"PRE_COPY_P2P", "STOP_COPY", pre_copy_p2p, "keeps the save data fd"},
      {"RUNNING_P2P", "PRE_COPY_P2P", pre_copy_p2p, "opens a save data fd"},
  };
  return arcs;
}

// "FROM -> TO" -> label of the kernel's arcs for a device with `flags`.
inline std::map<std::string, std::string> kernel_arcs_for(uint64_t flags) {
  std::map<std::string, std::string> out;
  for (const auto& a : kernel_arcs())
    if (a.required(flags)) out[std::string(a.from) + " -> " + a.to] = a.data_fd;
  return out;
}

// v2's state names and their new ones (values become 40 + the old value).
inline const std::map<std::string, std::string>& renames() {
  static const std::map<std::string, std::string> r = {
      {"ERROR", "BROKEN"},       {"STOP", "HALTED"},
      {"RUNNING", "LIVE"},       {"STOP_COPY", "DRAINING"},
      {"RESUMING", "LOADING"},   {"RUNNING_P2P", "LIVE_QUIET"},
      {"PRE_COPY", "STREAMING"}, {"PRE_COPY_P2P", "STREAMING_QUIET_WITH_A_LONG_NAME"},
  };
  return r;
}

// scenarios/protocols/v2.json with every state renamed and renumbered.
inline std::string renamed_v2_text() {
  std::ifstream in(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/protocols/v2.json");
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  auto j = nlohmann::ordered_json::parse(text, nullptr, true, /*ignore_comments=*/true);
  j["name"] = "v2-renamed";
  for (auto& s : j["states"]) {
    s["name"] = renames().at(s["name"].get<std::string>());
    s["value"] = 40 + s["value"].get<int>();
  }
  for (const char* list : {"arcs", "blocked"})
    for (auto& a : j[list]) {
      a["from"] = renames().at(a["from"].get<std::string>());
      a["to"] = renames().at(a["to"].get<std::string>());
    }
  return j.dump(2);
}

}  // namespace mdevsim::protocol_fixtures
