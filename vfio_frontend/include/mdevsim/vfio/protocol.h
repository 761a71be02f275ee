// Migration protocols as data (scenarios/protocols/*.json, format in
// docs/protocols.md): states with attributes, the single arcs a device
// implements and what each does to the data session, feature flags that make
// states optional, and the data-transfer rule of each state.
//
// v1.json and v2.json describe the kernel's protocols and drive the
// frontend; proposals (post-copy) are files of the same kind. A file is
// validated when loaded (Boost.Graph reachability and the session rules);
// every error names the file and the state or arc at fault.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mdevsim::vfio {

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// State attributes.
enum StateAttr : uint32_t {
  kAttrRunning = 1u << 0,      // the device executes and DMAs
  kAttrSaving = 1u << 1,       // a save session exists
  kAttrResuming = 1u << 2,     // a resume session exists
  kAttrServing = 1u << 3,      // answers page requests from a peer (post-copy source)
  kAttrP2PQuiesced = 1u << 4,  // running, but starts no new peer-to-peer DMA
  kAttrError = 1u << 5,        // entered only by a failed arc; left only by reset
  kAttrDefault = 1u << 6,      // the state after open and after reset
};

// What the data fd (or v1 data section) does in a state.
enum class DataRule {
  kNone,           // no data session
  kSave,           // stream of the device state; ends (read 0) once stopped and drained
  kPreCopy,        // stream while running; may have nothing now (ENOMSG or 0)
  kResume,         // accepts the stream, any segmentation
  kServe,          // post-copy source: the switch package, then pages on request
  kResumeRunning,  // post-copy destination: runs, accepts pages as they arrive
};

// What a single arc does to the data session.
enum class ArcSession {
  kNone,        // no session before or after
  kOpenSave,    // a new save data fd (the last arc of a SET returns it)
  kOpenResume,  // a new resume data fd
  kKeep,        // the same fd carries on (PRE_COPY -> STOP_COPY)
  kEndSave,     // the save session ends: its fd fails with ENODEV
  kEndResume,   // the resume session ends: the image is loaded and validated
  kServe,       // save -> serving: the device stops; the stream becomes post-copy
  kCommitKeep,  // resume -> running while resuming: apply what arrived, keep the fd
  kRestart,     // v1 only: ends one session and opens the other kind (010b -> 100b)
};

const char* data_rule_name(DataRule r);
const char* arc_session_name(ArcSession s);
std::string attrs_name(uint32_t attrs);  // "running,saving"

struct ProtocolState {
  std::string name;
  uint32_t value = 0;  // v2 enum value or v1 bit pattern
  uint32_t attrs = 0;
  uint64_t needs = 0;  // feature flags the device must advertise
  DataRule data = DataRule::kNone;
  std::string meaning;
};

struct ProtocolArc {
  size_t from = 0, to = 0;  // indices into states
  ArcSession session = ArcSession::kNone;
  uint64_t needs = 0;   // the arc exists only when all these are advertised
  uint64_t unless = 0;  // and none of these
  bool strict = true;   // v1: also accepted under the strict (libvfio-user) reading
};

struct ProtocolFeature {
  std::string name;
  uint64_t flag = 0;
  bool mandatory = false;
};

// Post-copy parameters a proposal defines (absent: no post-copy).
struct PostcopyRules {
  bool device_pages = false;               // device pages may stay at the source (serving state)
  std::string fault_delivery = "eventfd";  // "eventfd" (pushed) or "poll"
  double fault_latency_s = 20e-6;          // device fault -> VMM notified
  double poll_interval_s = 1e-3;           // "poll": how often the VMM asks
};

struct ProtocolSpec {
  enum class Encoding { kBits, kEnum } encoding = Encoding::kEnum;
  enum class Combination { kShortestPath, kDirect } combination = Combination::kShortestPath;
  std::string name, file, description;
  uint32_t bit_width = 0;  // kBits: values are below 1 << bit_width
  std::vector<ProtocolFeature> features;
  std::vector<ProtocolState> states;
  std::vector<ProtocolArc> arcs;
  std::vector<std::pair<size_t, size_t>> blocked;  // combination requests refused (EINVAL)
  std::optional<PostcopyRules> postcopy;
  size_t default_state = 0;
  std::optional<size_t> error_state;

  // ---- queries (flags = the device's advertised feature flags)
  std::optional<size_t> find(std::string_view name_or_value) const;
  std::optional<size_t> by_value(uint32_t value) const;
  bool supported(size_t state, uint64_t flags) const;  // the error state never is
  uint64_t mandatory_flags() const;
  uint64_t all_flags() const;
  std::optional<uint64_t> parse_features(std::string_view comma_list) const;
  std::string features_name(uint64_t flags) const;
  std::vector<const ProtocolArc*> arcs_for(uint64_t flags) const;
  const ProtocolArc* arc(size_t from, size_t to, uint64_t flags) const;
  bool has_session(size_t state) const { return states[state].data != DataRule::kNone; }

  // The kernel's rule for combination transitions, derived from the arcs:
  // the shortest path over the arcs the device implements, where a state
  // with a data session is interior only if the session is carried through
  // it (entered and left by arcs that keep the fd: keep, serve,
  // commit_keep), and blocked pairs are refused. 0 and the first
  // step, or -EINVAL. Ties go to the arc listed first in the file.
  int next_step(size_t cur, size_t target, uint64_t flags, size_t& next) const;
  struct Path {
    int err = 0;
    std::vector<size_t> states;  // first = cur
  };
  Path path(size_t cur, size_t target, uint64_t flags) const;
};

// Parses and validates; throws ProtocolError("FILE: where: what").
ProtocolSpec parse_protocol(std::string_view json_text, const std::string& file);
ProtocolSpec load_protocol_file(const std::string& path);
// The shipped v1.json / v2.json, compiled in (the frontend's source of truth).
const ProtocolSpec& builtin_protocol_v1();
const ProtocolSpec& builtin_protocol_v2();
// "v1", "v2", a shipped name ("v2-postcopy") or a file path.
ProtocolSpec resolve_protocol(const std::string& name_or_path, const std::string& relative_to = "");

}  // namespace mdevsim::vfio
