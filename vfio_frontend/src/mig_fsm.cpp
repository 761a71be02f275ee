#include "mdevsim/vfio/mig_fsm.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

#include "mdevsim/vfio/protocol.h"

namespace mdevsim::vfio {

namespace {

constexpr uint64_t kStopCopy = 1, kP2P = 2, kPreCopy = 4;
using S = MigState;

// The v2 state at enum value v in scenarios/protocols/v2.json.
std::optional<size_t> v2_index(MigState s) {
  return builtin_protocol_v2().by_value(static_cast<uint32_t>(s));
}
MigState v2_state(size_t index) {
  return static_cast<MigState>(builtin_protocol_v2().states[index].value);
}

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
  const auto i = v2_index(s);
  return i && builtin_protocol_v2().supported(*i, flags);
}

bool in_saving_group(MigState s) {
  return s == S::kPreCopy || s == S::kPreCopyP2P || s == S::kStopCopy;
}

// The kernel's next-step rule, derived from v2.json's arcs (shortest path,
// sessions never interior unless carried, blocked pairs refused); the test
// compares it with the kernel's hard-coded table for every feature set.
int next_state(MigState cur, MigState target, uint64_t flags, MigState& next) {
  const auto c = v2_index(cur), t = v2_index(target);
  if (!c || !t || !state_supported(cur, flags) || !state_supported(target, flags)) return -EINVAL;
  size_t n = *c;
  const int err = builtin_protocol_v2().next_step(*c, *t, flags, n);
  if (err) return err;
  next = v2_state(n);
  return 0;
}

MigPath find_path(MigState cur, MigState target, uint64_t flags) {
  MigPath p;
  const auto c = v2_index(cur), t = v2_index(target);
  if (!c || !t) {
    p.states.push_back(cur);
    p.err = -EINVAL;
    return p;
  }
  if (cur != target && (!state_supported(cur, flags) || !state_supported(target, flags))) {
    p.states.push_back(cur);
    p.err = -EINVAL;
    return p;
  }
  const auto path = builtin_protocol_v2().path(*c, *t, flags);
  for (size_t i : path.states) p.states.push_back(v2_state(i));
  p.err = path.err;
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
  static const std::vector<Arc> arcs = [] {
    std::vector<Arc> out;
    const auto& p = builtin_protocol_v2();
    for (const auto& a : p.arcs) {
      SessionEffect e = SessionEffect::kNone;
      switch (a.session) {
        case ArcSession::kOpenSave:
          e = SessionEffect::kOpensSave;
          break;
        case ArcSession::kOpenResume:
          e = SessionEffect::kOpensResume;
          break;
        case ArcSession::kKeep:
          e = SessionEffect::kKeepsSave;
          break;
        case ArcSession::kEndSave:
          e = SessionEffect::kEndsSave;
          break;
        case ArcSession::kEndResume:
          e = SessionEffect::kEndsResume;
          break;
        default:
          break;
      }
      out.push_back({v2_state(a.from), v2_state(a.to), e, a.needs, a.unless});
    }
    return out;
  }();
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

// Which patterns exist, and which is the error state, come from v1.json.
bool valid(uint32_t s) {
  const auto& p = builtin_protocol_v1();
  const auto i = p.by_value(s & kMask);
  return i && !(p.states[*i].attrs & kAttrError);
}
bool is_error(uint32_t s) {
  const auto& p = builtin_protocol_v1();
  return p.error_state && p.states[*p.error_state].value == (s & kMask);
}
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
  if (cur == target) return 0;
  const auto& p = builtin_protocol_v1();
  const auto* arc = p.arc(*p.by_value(cur), *p.by_value(target), 0);
  if (!arc) return -EINVAL;
  return !strict || arc->strict ? 0 : -EINVAL;
}

}  // namespace v1

}  // namespace mdevsim::vfio
