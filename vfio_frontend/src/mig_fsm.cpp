#include "mdevsim/vfio/mig_fsm.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <sstream>

#include "mdevsim/vfio/protocol.h"

namespace mdevsim::vfio {

namespace {

// Every v2 query below is a question to scenarios/protocols/v2.json (the
// compiled-in builtin_protocol_v2()): this file keeps the old MigState API
// for its callers and has no tables of its own.
const ProtocolSpec& v2() { return builtin_protocol_v2(); }

std::optional<size_t> v2_index(MigState s) { return v2().by_value(static_cast<uint32_t>(s)); }
MigState v2_state(size_t index) { return static_cast<MigState>(v2().states[index].value); }

SessionEffect effect_of(ArcSession s) {
  switch (s) {
    case ArcSession::kOpenSave:
      return SessionEffect::kOpensSave;
    case ArcSession::kOpenResume:
      return SessionEffect::kOpensResume;
    case ArcSession::kKeep:
      return SessionEffect::kKeepsSave;
    case ArcSession::kEndSave:
      return SessionEffect::kEndsSave;
    case ArcSession::kEndResume:
      return SessionEffect::kEndsResume;
    default:  // v2.json has no serve/commit_keep/restart arc
      return SessionEffect::kNone;
  }
}

std::string upper(std::string_view t) {
  std::string s(t);
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_bits(std::string_view t) {
  return t.size() > 1 && t.back() == 'b' &&
         std::all_of(t.begin(), t.end() - 1, [](char c) { return c == '0' || c == '1'; });
}

}  // namespace

const char* state_name(MigState s) {
  const auto i = v2_index(s);
  return i ? v2().states[*i].name.c_str() : "INVALID";
}

std::optional<MigState> parse_state(std::string_view text) {
  if (is_bits(text)) return std::nullopt;  // v1 bit patterns are not v2 states
  const auto i = v2().find(text);
  if (!i) return std::nullopt;
  return v2_state(*i);
}

std::optional<uint64_t> parse_features(std::string_view list) { return v2().parse_features(list); }

std::string features_name(uint64_t flags) {
  return flags & v2().all_flags() ? v2().features_name(flags) : "";
}

bool state_supported(MigState s, uint64_t flags) {
  const auto i = v2_index(s);
  return i && v2().supported(*i, flags);
}

bool in_saving_group(MigState s) {
  const auto i = v2_index(s);
  return i && (v2().states[*i].attrs & kAttrSaving);
}

int next_state(MigState cur, MigState target, uint64_t flags, MigState& next) {
  const auto c = v2_index(cur), t = v2_index(target);
  if (!c || !t || !v2().supported(*c, flags) || !v2().supported(*t, flags)) return -EINVAL;
  size_t n = *c;
  const int err = v2().next_step(*c, *t, flags, n);
  if (err) return err;
  next = v2_state(n);
  return 0;
}

MigPath find_path(MigState cur, MigState target, uint64_t flags) {
  MigPath out;
  const auto c = v2_index(cur), t = v2_index(target);
  if (!c || !t) {
    out.states.push_back(cur);
    out.err = -EINVAL;
    return out;
  }
  const auto path = v2().path(*c, *t, flags);
  for (size_t i : path.states) out.states.push_back(v2_state(i));
  out.err = path.err;
  return out;
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
    for (const auto& a : v2().arcs)
      out.push_back({v2_state(a.from), v2_state(a.to), effect_of(a.session), a.needs, a.unless});
    return out;
  }();
  return arcs;
}

std::vector<Arc> arcs_for(uint64_t flags) {
  std::vector<Arc> out;
  for (const auto* a : v2().arcs_for(flags))
    out.push_back({v2_state(a->from), v2_state(a->to), effect_of(a->session), a->needs, a->unless});
  return out;
}

std::optional<Arc> find_arc(MigState from, MigState to, uint64_t flags) {
  const auto f = v2_index(from), t = v2_index(to);
  const ProtocolArc* a = f && t ? v2().arc(*f, *t, flags) : nullptr;
  if (!a) return std::nullopt;
  return Arc{from, to, effect_of(a->session), a->needs, a->unless};
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
uint32_t set_error(uint32_t s) {
  const auto& p = builtin_protocol_v1();
  return (s & ~kMask) | (p.error_state ? p.states[*p.error_state].value : kSave | kRes);
}

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
