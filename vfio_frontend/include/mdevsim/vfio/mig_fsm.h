// The kernel's two migration state machines under their uAPI names: a thin
// layer over the compiled-in protocol files (builtin_protocol_v2(),
// builtin_protocol_v1(), protocol.h), with no tables or parsing of its own.
// It keeps the MigState-typed API of older callers; new code asks the
// ProtocolSpec directly, which works for proposals too:
//   state_name / parse_state       spec.states[i].name / spec.find(text)
//   parse_features / features_name spec.parse_features / spec.features_name
//   state_supported                spec.supported(i, flags)
//   next_state / find_path         spec.next_step / spec.path
//   all_arcs / arcs_for / find_arc spec.arcs / spec.arcs_for / spec.arc
//   in_saving_group                spec.states[i].attrs & kAttrSaving
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mdevsim::vfio {

// enum vfio_device_mig_state (values are the uAPI's).
enum class MigState : uint32_t {
  kError = 0,
  kStop = 1,
  kRunning = 2,
  kStopCopy = 3,
  kResuming = 4,
  kRunningP2P = 5,
  kPreCopy = 6,
  kPreCopyP2P = 7,
};
inline constexpr uint32_t kMigStateCount = 8;

const char* state_name(MigState s);  // "PRE_COPY"
// Accepts "PRE_COPY", "pre_copy", "VFIO_DEVICE_STATE_PRE_COPY" or a number 0..7.
std::optional<MigState> parse_state(std::string_view text);

// "stop_copy,p2p,pre_copy" <-> VFIO_MIGRATION_* flags (v2.json's feature
// names). parse returns nullopt on an unknown name; stop_copy is mandatory
// and checked by the caller. features_name(0) is "".
std::optional<uint64_t> parse_features(std::string_view list);
std::string features_name(uint64_t flags);

// Whether a device advertising `flags` has this state (ERROR never counts:
// it cannot be requested).
bool state_supported(MigState s, uint64_t flags);
bool in_saving_group(MigState s);  // PRE_COPY, PRE_COPY_P2P, STOP_COPY

// One step of the kernel's vfio_mig_get_next_state(): 0 and the next state
// to move to, or -EINVAL (unsupported target, ERROR, blocked arc such as
// STOP_COPY -> PRE_COPY). Unlike kernels 6.2-7.1 it terminates on blocked arcs.
int next_state(MigState cur, MigState target, uint64_t flags, MigState& next);

// The states a SET walks through (first = cur, last = target), or err < 0.
struct MigPath {
  int err = 0;
  std::vector<MigState> states;
};
MigPath find_path(MigState cur, MigState target, uint64_t flags);

// What a single arc does to the data session.
enum class SessionEffect { kNone, kOpensSave, kOpensResume, kKeepsSave, kEndsSave, kEndsResume };
const char* session_effect_name(SessionEffect e);

struct Arc {
  MigState from;
  MigState to;
  SessionEffect effect;
  uint64_t required;  // feature flags the device must advertise for this arc
  uint64_t excluded;  // flags under which the arc does not exist (e.g. P2P)
};
// The single arcs of protocol v2 (the 18 arcs of the uAPI), and those a
// device with `flags` implements.
const std::vector<Arc>& all_arcs();
std::vector<Arc> arcs_for(uint64_t flags);
std::optional<Arc> find_arc(MigState from, MigState to, uint64_t flags);

// ---- protocol v1 (device_state bits: _RUNNING 1, _SAVING 2, _RESUMING 4) ----
namespace v1 {
bool valid(uint32_t state);           // VFIO_DEVICE_STATE_VALID
bool is_error(uint32_t state);        // VFIO_DEVICE_STATE_IS_ERROR (110b)
uint32_t set_error(uint32_t state);   // VFIO_DEVICE_STATE_SET_ERROR
std::string bits(uint32_t state);     // "011b" from the low 3 bits
std::string meaning(uint32_t state);  // "pre-copy (_SAVING|_RUNNING)"
// Parses "011b", "3", "0x3" or names like "RUNNING|SAVING".
std::optional<uint32_t> parse(std::string_view text);
// Acceptance of a device_state write from `cur` to `target` (low 3 bits):
// permissive (any valid target unless in the error state) or strict (the
// libvfio-user table, intended reading). Returns 0 or -EINVAL.
int check_transition(uint32_t cur, uint32_t target, bool strict);
}  // namespace v1

}  // namespace mdevsim::vfio
