#include "mdevsim/vfio/mig_fsm.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

namespace mdevsim::vfio {

namespace {

constexpr uint64_t kStopCopy = 1, kP2P = 2, kPreCopy = 4;

using S = MigState;
constexpr S E = S::kError, ST = S::kStop, RU = S::kRunning, SC = S::kStopCopy, RE = S::kResuming,
            RP = S::kRunningP2P, PC = S::kPreCopy, PP = S::kPreCopyP2P;

// vfio_from_fsm_table of drivers/vfio/vfio_main.c: next[cur][target] on the
// shortest path that never passes through a saving-group state or RESUMING.
constexpr S kNext[kMigStateCount][kMigStateCount] = {
    /* ERROR */ {E, E, E, E, E, E, E, E},
    /* STOP */ {E, ST, RP, SC, RE, RP, RP, RP},
    /* RUNNING */ {E, RP, RU, RP, RP, RP, PC, RP},
    /* STOP_COPY */ {E, ST, ST, SC, ST, ST, E, E},
    /* RESUMING */ {E, ST, ST, ST, RE, ST, ST, ST},
    /* RUNNING_P2P */ {E, ST, RU, ST, ST, RP, RU, PP},
    /* PRE_COPY */ {E, RU, RU, PP, RU, RU, PC, PP},
    /* PRE_COPY_P2P */ {E, RP, RP, SC, RP, RP, PC, PP},
};

// state_flags_table: the features each state needs (ERROR: never supported).
constexpr uint64_t kStateFlags[kMigStateCount] = {~uint64_t{0},
                                                  kStopCopy,
                                                  kStopCopy,
                                                  kStopCopy,
                                                  kStopCopy,
                                                  kStopCopy | kP2P,
                                                  kStopCopy | kPreCopy,
                                                  kStopCopy | kP2P | kPreCopy};

std::string upper(std::string_view t) {
  std::string s(t);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const char* state_name(MigState s) {
  static const char* names[] = {"ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
                                "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"};
  const auto i = static_cast<uint32_t>(s);
  return i < kMigStateCount ? names[i] : "INVALID";
}

std::optional<MigState> parse_state(std::string_view text) {
  std::string s = upper(text);
  if (s.rfind("VFIO_DEVICE_STATE_", 0) == 0) s = s.substr(18);
  for (uint32_t i = 0; i < kMigStateCount; ++i)
    if (s == state_name(static_cast<MigState>(i))) return static_cast<MigState>(i);
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    const unsigned long v = std::stoul(s);
    if (v < kMigStateCount) return static_cast<MigState>(v);
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_features(std::string_view list) {
  uint64_t flags = 0;
  std::stringstream ss{std::string(list)};
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "stop_copy")
      flags |= kStopCopy;
    else if (item == "p2p")
      flags |= kP2P;
    else if (item == "pre_copy")
      flags |= kPreCopy;
    else if (!item.empty())
      return std::nullopt;
  }
  return flags;
}

std::string features_name(uint64_t flags) {
  std::string out;
  if (flags & kStopCopy) out += "stop_copy";
  if (flags & kP2P) out += std::string(out.empty() ? "" : ",") + "p2p";
  if (flags & kPreCopy) out += std::string(out.empty() ? "" : ",") + "pre_copy";
  return out;
}

bool state_supported(MigState s, uint64_t flags) {
  const auto i = static_cast<uint32_t>(s);
  if (i >= kMigStateCount || s == MigState::kError) return false;
  return (kStateFlags[i] & flags) == kStateFlags[i];
}

bool in_saving_group(MigState s) {
  return s == S::kPreCopy || s == S::kPreCopyP2P || s == S::kStopCopy;
}

int next_state(MigState cur, MigState target, uint64_t flags, MigState& next) {
  if (!state_supported(cur, flags) && cur != MigState::kError) return -EINVAL;
  if (cur == MigState::kError) return -EINVAL;  // the kernel WARNs: only reset leaves ERROR
  if (static_cast<uint32_t>(target) >= kMigStateCount || !state_supported(target, flags))
    return -EINVAL;
  next = kNext[static_cast<uint32_t>(cur)][static_cast<uint32_t>(target)];
  // Skip optional states the device lacks; stop at ERROR (blocked arc).
  while (next != MigState::kError && !state_supported(next, flags))
    next = kNext[static_cast<uint32_t>(next)][static_cast<uint32_t>(target)];
  return next == MigState::kError ? -EINVAL : 0;
}

MigPath find_path(MigState cur, MigState target, uint64_t flags) {
  MigPath p;
  p.states.push_back(cur);
  while (cur != target) {
    MigState next;
    const int err = next_state(cur, target, flags, next);
    if (err != 0) {
      p.err = err;
      return p;
    }
    p.states.push_back(next);
    cur = next;
    if (p.states.size() > kMigStateCount + 1) {  // cannot happen with the kernel table
      p.err = -EINVAL;
      return p;
    }
  }
  return p;
}

const char* session_effect_name(SessionEffect e) {
  switch (e) {
    case SessionEffect::kNone:
      return "none";
    case SessionEffect::kOpensSave:
      return "opens a save data fd";
    case SessionEffect::kOpensResume:
      return "opens a resume data fd";
    case SessionEffect::kKeepsSave:
      return "keeps the save data fd";
    case SessionEffect::kEndsSave:
      return "ends the save session";
    case SessionEffect::kEndsResume:
      return "ends the resume session (loads and validates)";
  }
  return "?";
}

const std::vector<Arc>& all_arcs() {
  using F = SessionEffect;
  static const std::vector<Arc> arcs = {
      {ST, SC, F::kOpensSave, kStopCopy, 0},
      {SC, ST, F::kEndsSave, kStopCopy, 0},
      {ST, RE, F::kOpensResume, kStopCopy, 0},
      {RE, ST, F::kEndsResume, kStopCopy, 0},
      {RU, ST, F::kNone, kStopCopy, kP2P},
      {ST, RU, F::kNone, kStopCopy, kP2P},
      {RU, RP, F::kNone, kStopCopy | kP2P, 0},
      {RP, RU, F::kNone, kStopCopy | kP2P, 0},
      {RP, ST, F::kNone, kStopCopy | kP2P, 0},
      {ST, RP, F::kNone, kStopCopy | kP2P, 0},
      {RU, PC, F::kOpensSave, kStopCopy | kPreCopy, 0},
      {PC, RU, F::kEndsSave, kStopCopy | kPreCopy, 0},
      {PC, SC, F::kKeepsSave, kStopCopy | kPreCopy, kP2P},
      {PC, PP, F::kKeepsSave, kStopCopy | kPreCopy | kP2P, 0},
      {PP, PC, F::kKeepsSave, kStopCopy | kPreCopy | kP2P, 0},
      {PP, RP, F::kEndsSave, kStopCopy | kPreCopy | kP2P, 0},
      {PP, SC, F::kKeepsSave, kStopCopy | kPreCopy | kP2P, 0},
      {RP, PP, F::kOpensSave, kStopCopy | kPreCopy | kP2P, 0},
  };
  return arcs;
}

std::vector<Arc> arcs_for(uint64_t flags) {
  std::vector<Arc> out;
  for (const auto& a : all_arcs())
    if ((a.required & flags) == a.required && (a.excluded & flags) == 0) out.push_back(a);
  return out;
}

std::optional<Arc> find_arc(MigState from, MigState to, uint64_t flags) {
  for (const auto& a : arcs_for(flags))
    if (a.from == from && a.to == to) return a;
  return std::nullopt;
}

namespace v1 {

constexpr uint32_t kRun = 1, kSave = 2, kRes = 4, kMask = 7;

bool valid(uint32_t s) { return (s & kRes) ? (s & kMask) == kRes : true; }
bool is_error(uint32_t s) { return (s & kMask) == (kSave | kRes); }
uint32_t set_error(uint32_t s) { return (s & ~kMask) | kSave | kRes; }

std::string bits(uint32_t s) {
  std::string b;
  for (int i = 2; i >= 0; --i) b += ((s >> i) & 1) ? '1' : '0';
  return b + "b";
}

std::string meaning(uint32_t s) {
  switch (s & kMask) {
    case 0:
      return "stopped (_STOP)";
    case 1:
      return "running (_RUNNING), the default";
    case 2:
      return "stop-and-copy (_SAVING)";
    case 3:
      return "pre-copy (_SAVING|_RUNNING)";
    case 4:
      return "resuming (_RESUMING)";
    case 5:
      return "invalid: reserved (_RESUMING|_RUNNING, once proposed for post-copy)";
    case 6:
      return "error state (_SAVING|_RESUMING)";
    default:
      return "invalid (all bits)";
  }
}

std::optional<uint32_t> parse(std::string_view text) {
  std::string t(text);
  if (t.size() == 4 && t.back() == 'b' &&
      std::all_of(t.begin(), t.end() - 1, [](char c) { return c == '0' || c == '1'; }))
    return static_cast<uint32_t>(std::stoul(t.substr(0, 3), nullptr, 2));
  const std::string u = upper(t);
  if (u == "STOP") return 0u;
  if (!u.empty() && std::isalpha(static_cast<unsigned char>(u[0]))) {
    uint32_t v = 0;
    std::stringstream ss(u);
    std::string part;
    while (std::getline(ss, part, '|')) {
      if (part == "RUNNING" || part == "_RUNNING")
        v |= kRun;
      else if (part == "SAVING" || part == "_SAVING")
        v |= kSave;
      else if (part == "RESUMING" || part == "_RESUMING")
        v |= kRes;
      else if (part == "STOP" || part == "_STOP") {
      } else
        return std::nullopt;
    }
    return v;
  }
  try {
    size_t used = 0;
    const unsigned long v = std::stoul(t, &used, 0);
    if (used != t.size() || v > 0xffffffffUL) return std::nullopt;
    return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

int check_transition(uint32_t cur, uint32_t target, bool strict) {
  cur &= kMask;
  target &= kMask;
  if (is_error(cur)) return -EINVAL;                       // only VFIO_DEVICE_RESET leaves 110b
  if (!valid(target) || is_error(target)) return -EINVAL;  // 101b, 110b, 111b
  if (target == 5 || target == 7) return -EINVAL;
  if (!strict) return 0;
  // libvfio-user's migr_states[] (read as intended, without its 011->001 slip).
  static const uint8_t allowed[8] = {/*000*/ 0b00000011,
                                     /*001*/ 0b01011111,
                                     /*010*/ 0b01000111,
                                     /*011*/ 0b01001101,
                                     /*100*/ 0b01010010, 0, 0, 0};
  return (allowed[cur] >> target) & 1 ? 0 : -EINVAL;
}

}  // namespace v1

}  // namespace mdevsim::vfio
