#include "mdevsim/vfio/protocol.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <nlohmann/json.hpp>

namespace mdevsim::vfio {

namespace {

using Json = nlohmann::json;

constexpr std::pair<const char*, uint32_t> kAttrNames[] = {
    {"running", kAttrRunning},          {"saving", kAttrSaving},
    {"resuming", kAttrResuming},        {"serving", kAttrServing},
    {"p2p_quiesced", kAttrP2PQuiesced}, {"error", kAttrError},
    {"default", kAttrDefault},
};
constexpr std::pair<const char*, DataRule> kDataNames[] = {
    {"none", DataRule::kNone},       {"save", DataRule::kSave},
    {"precopy", DataRule::kPreCopy}, {"resume", DataRule::kResume},
    {"serve", DataRule::kServe},     {"resume_running", DataRule::kResumeRunning},
};
constexpr std::pair<const char*, ArcSession> kSessionNames[] = {
    {"none", ArcSession::kNone},
    {"open_save", ArcSession::kOpenSave},
    {"open_resume", ArcSession::kOpenResume},
    {"keep", ArcSession::kKeep},
    {"end_save", ArcSession::kEndSave},
    {"end_resume", ArcSession::kEndResume},
    {"serve", ArcSession::kServe},
    {"commit_keep", ArcSession::kCommitKeep},
    {"restart", ArcSession::kRestart},
};

template <typename T, size_t N>
std::string choices(const std::pair<const char*, T> (&table)[N]) {
  std::string s;
  for (const auto& [n, v] : table) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

bool is_save(DataRule r) {
  return r == DataRule::kSave || r == DataRule::kPreCopy || r == DataRule::kServe;
}
bool is_resume(DataRule r) { return r == DataRule::kResume || r == DataRule::kResumeRunning; }
// Arcs that hand the same data fd on (the session continues through them).
bool carries(ArcSession s) {
  return s == ArcSession::kKeep || s == ArcSession::kServe || s == ArcSession::kCommitKeep;
}

// Reads one JSON object with a fixed set of keys; errors carry the file and
// the JSON path of the offending value.
class Obj {
 public:
  Obj(const Json& j, std::string file, std::string path)
      : j_(j), file_(std::move(file)), path_(std::move(path)) {
    if (!j_.is_object()) fail("", "must be an object");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw ProtocolError(file_ + ": " + (key.empty() ? path_ : path_ + "." + key) + ": " + why);
  }
  void allow(std::initializer_list<const char*> keys) const {
    for (const auto& [k, v] : j_.items()) {
      bool ok = false;
      for (const char* a : keys) ok |= k == a;
      if (!ok) {
        std::string list;
        for (const char* a : keys) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(k, "unknown key (expected one of: " + list + ")");
      }
    }
  }
  bool has(const char* k) const { return j_.contains(k); }
  std::string str(const char* k, std::optional<std::string> def = std::nullopt) const {
    if (!j_.contains(k)) {
      if (def) return *def;
      fail(k, "is required");
    }
    if (!j_.at(k).is_string()) fail(k, "must be a string");
    return j_.at(k).get<std::string>();
  }
  uint64_t uint(const char* k) const {
    if (!j_.contains(k)) fail(k, "is required");
    if (!j_.at(k).is_number_unsigned()) fail(k, "must be a non-negative integer");
    return j_.at(k).get<uint64_t>();
  }
  bool boolean(const char* k, bool def) const {
    if (!j_.contains(k)) return def;
    if (!j_.at(k).is_boolean()) fail(k, "must be true or false");
    return j_.at(k).get<bool>();
  }
  std::vector<std::string> strings(const char* k) const {
    std::vector<std::string> out;
    if (!j_.contains(k)) return out;
    if (!j_.at(k).is_array()) fail(k, "must be an array of strings");
    for (const auto& e : j_.at(k)) {
      if (!e.is_string()) fail(k, "must be an array of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  // A required member: missing, it is an error naming the key (found by
  // fuzz_protocol: a file without "encoding" ended the process).
  const Json& at(const char* k) const {
    if (!j_.contains(k)) fail(k, "is required");
    return j_.at(k);
  }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

 private:
  const Json& j_;
  std::string file_, path_;
};

// Seconds from "20us", "1ms", "0.5s" or a number of seconds.
double parse_seconds(const Obj& o, const char* key, double def) {
  if (!o.has(key)) return def;
  const Json& v = o.at(key);
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) o.fail(key, "must be a duration such as \"20us\"");
  const std::string s = v.get<std::string>();
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(s, &used);
  } catch (const std::exception&) {
    o.fail(key, "'" + s + "' is not a duration such as \"20us\"");
  }
  const std::string unit = s.substr(used);
  const double scale = unit == "s" || unit.empty() ? 1
                       : unit == "ms"              ? 1e-3
                       : unit == "us"              ? 1e-6
                       : unit == "ns"              ? 1e-9
                                                   : -1;
  if (scale < 0 || x < 0) o.fail(key, "'" + s + "' is not a duration (units: s, ms, us, ns)");
  return x * scale;
}

using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

// States reached from `start` over the graph (Boost BFS colouring).
template <typename G>
std::vector<bool> reached_from(const G& g, size_t start) {
  std::vector<boost::default_color_type> color(boost::num_vertices(g), boost::white_color);
  boost::breadth_first_search(g, boost::vertex(start, g),
                              boost::color_map(boost::make_iterator_property_map(
                                  color.begin(), boost::get(boost::vertex_index, g))));
  std::vector<bool> out(color.size());
  for (size_t i = 0; i < color.size(); ++i) out[i] = color[i] != boost::white_color;
  return out;
}

void validate(const ProtocolSpec& p) {
  const std::string& f = p.file;
  auto where = [&](size_t s) { return "state \"" + p.states[s].name + "\""; };
  auto arc_where = [&](const ProtocolArc& a) {
    return "arc " + p.states[a.from].name + " -> " + p.states[a.to].name;
  };
  // Encodings unique and in range.
  std::map<uint32_t, size_t> seen;
  std::set<std::string> names;
  for (size_t i = 0; i < p.states.size(); ++i) {
    const auto& st = p.states[i];
    if (!names.insert(st.name).second)
      throw ProtocolError(f + ": " + where(i) + ": the name is used twice");
    if (auto [it, fresh] = seen.emplace(st.value, i); !fresh)
      throw ProtocolError(f + ": " + where(i) + ": encoding " + std::to_string(st.value) +
                          " is already used by state \"" + p.states[it->second].name + "\"");
    if (p.encoding == ProtocolSpec::Encoding::kBits && p.bit_width < 32 &&
        st.value >= (1u << p.bit_width))
      throw ProtocolError(f + ": " + where(i) + ": value " + std::to_string(st.value) +
                          " does not fit in " + std::to_string(p.bit_width) + " bits");
    // Session rules of the state itself.
    const bool saving = st.attrs & kAttrSaving, resuming = st.attrs & kAttrResuming;
    if (saving != is_save(st.data) || resuming != is_resume(st.data))
      throw ProtocolError(
          f + ": " + where(i) + ": data rule \"" + data_rule_name(st.data) +
          "\" does not match its attributes (" + attrs_name(st.attrs) +
          "): saving states carry save/precopy/serve, resuming states resume/resume_running");
    if (((st.attrs & kAttrServing) != 0) != (st.data == DataRule::kServe))
      throw ProtocolError(f + ": " + where(i) +
                          ": the serving attribute goes with the data rule \"serve\"");
    if ((st.attrs & kAttrError) && (st.attrs & ~kAttrError))
      throw ProtocolError(f + ": " + where(i) + ": the error state can have no other attribute");
    if ((st.attrs & kAttrP2PQuiesced) && !(st.attrs & kAttrRunning))
      throw ProtocolError(f + ": " + where(i) +
                          ": p2p_quiesced only makes sense for a running state");
  }
  size_t defaults = 0, errors = 0;
  for (const auto& st : p.states) {
    defaults += (st.attrs & kAttrDefault) != 0;
    errors += (st.attrs & kAttrError) != 0;
  }
  if (defaults != 1)
    throw ProtocolError(f +
                        ": states: exactly one state must have the attribute \"default\" (found " +
                        std::to_string(defaults) + ")");
  if (errors > 1)
    throw ProtocolError(f + ": states: at most one state may have the attribute \"error\"");

  // Arcs: never into the error state; session effect consistent with the
  // data rules at both ends.
  std::set<std::pair<size_t, size_t>> arc_pairs;
  for (const auto& a : p.arcs) {
    const auto& from = p.states[a.from];
    const auto& to = p.states[a.to];
    if (a.from == a.to)
      throw ProtocolError(f + ": " + arc_where(a) + ": an arc must change the state");
    if (to.attrs & kAttrError)
      throw ProtocolError(f + ": " + arc_where(a) +
                          ": no arc may be requested into the error state \"" + to.name +
                          "\" (a device lands there only when an arc fails)");
    if (from.attrs & kAttrError)
      throw ProtocolError(f + ": " + arc_where(a) +
                          ": the error state is left only by a reset, not by an arc");
    const DataRule x = from.data, y = to.data;
    std::string expect;
    switch (a.session) {
      case ArcSession::kNone:
        if (x != DataRule::kNone || y != DataRule::kNone)
          expect = "both ends without a data session";
        break;
      case ArcSession::kOpenSave:
        if (x != DataRule::kNone || !is_save(y))
          expect = "from a state without a session into a saving state";
        break;
      case ArcSession::kOpenResume:
        if (x != DataRule::kNone || !is_resume(y))
          expect = "from a state without a session into a resuming state";
        break;
      case ArcSession::kKeep:
        if (!((is_save(x) && is_save(y) && y != DataRule::kServe) ||
              (is_resume(x) && is_resume(y) && x == y)))
          expect =
              "between two saving states (not into serve) or two resuming states of the same rule";
        break;
      case ArcSession::kEndSave:
        if (!is_save(x) || y != DataRule::kNone)
          expect = "from a saving state into a state without a session";
        break;
      case ArcSession::kEndResume:
        if (!is_resume(x) || y != DataRule::kNone)
          expect = "from a resuming state into a state without a session";
        break;
      case ArcSession::kServe:
        if (!is_save(x) || x == DataRule::kServe || y != DataRule::kServe)
          expect = "from a saving state into a serving state";
        break;
      case ArcSession::kRestart:
        if (x == DataRule::kNone || y == DataRule::kNone || is_save(x) == is_save(y))
          expect = "between a saving and a resuming state";
        break;
      case ArcSession::kCommitKeep:
        if (x != DataRule::kResume || y != DataRule::kResumeRunning)
          expect = "from a resume state into a resume_running state";
        break;
    }
    if (!expect.empty())
      throw ProtocolError(f + ": " + arc_where(a) + ": data session \"" +
                          arc_session_name(a.session) + "\" needs " + expect + " (here " +
                          data_rule_name(x) + " -> " + data_rule_name(y) + ")");
  }

  // Reachability, for every feature set the device may advertise.
  std::vector<uint64_t> optional;
  for (const auto& ft : p.features)
    if (!ft.mandatory) optional.push_back(ft.flag);
  if (optional.size() > 10) throw ProtocolError(f + ": features: at most 10 optional features");
  for (uint64_t mask = 0; mask < (uint64_t{1} << optional.size()); ++mask) {
    uint64_t flags = p.mandatory_flags();
    for (size_t b = 0; b < optional.size(); ++b)
      if (mask & (uint64_t{1} << b)) flags |= optional[b];
    if (!p.supported(p.default_state, flags))
      throw ProtocolError(f + ": state \"" + p.states[p.default_state].name +
                          "\": the default state must exist with every feature set (not with " +
                          p.features_name(flags) + ")");
    Graph g(p.states.size());
    for (const auto* a : p.arcs_for(flags))
      if (p.supported(a->from, flags) && p.supported(a->to, flags))
        boost::add_edge(a->from, a->to, g);
    const auto fwd = reached_from(g, p.default_state);
    const auto back = reached_from(boost::make_reverse_graph(g), p.default_state);
    const std::string with = p.features.empty() ? "" : " (features " + p.features_name(flags) + ")";
    for (size_t s = 0; s < p.states.size(); ++s) {
      if (!p.supported(s, flags)) continue;
      if (!fwd[s])
        throw ProtocolError(f + ": " + where(s) + ": not reachable from the default state " +
                            p.states[p.default_state].name + with);
      if (!back[s])
        throw ProtocolError(f + ": " + where(s) + ": the default state " +
                            p.states[p.default_state].name + " cannot be reached from it" + with);
    }
  }
}

}  // namespace

const char* data_rule_name(DataRule r) {
  for (const auto& [n, v] : kDataNames)
    if (v == r) return n;
  return "?";
}
const char* arc_session_name(ArcSession s) {
  for (const auto& [n, v] : kSessionNames)
    if (v == s) return n;
  return "?";
}
std::string attrs_name(uint32_t attrs) {
  std::string s;
  for (const auto& [n, v] : kAttrNames)
    if (attrs & v) s += (s.empty() ? "" : ",") + std::string(n);
  return s.empty() ? "none" : s;
}

std::optional<size_t> ProtocolSpec::find(std::string_view text) const {
  std::string u(text);
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u.rfind("VFIO_DEVICE_STATE_", 0) == 0) u = u.substr(18);
  for (size_t i = 0; i < states.size(); ++i) {
    std::string n = states[i].name;
    for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (n == u) return i;
  }
  // A number, or v1 bits such as "011b".
  std::string t(text);
  if (t.size() > 1 && t.back() == 'b' &&
      std::all_of(t.begin(), t.end() - 1, [](char c) { return c == '0' || c == '1'; }))
    return by_value(static_cast<uint32_t>(std::stoul(t.substr(0, t.size() - 1), nullptr, 2)));
  if (!t.empty() &&
      std::all_of(t.begin(), t.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
      t.size() < 10)
    return by_value(static_cast<uint32_t>(std::stoul(t)));
  return std::nullopt;
}

std::optional<size_t> ProtocolSpec::by_value(uint32_t value) const {
  for (size_t i = 0; i < states.size(); ++i)
    if (states[i].value == value) return i;
  return std::nullopt;
}

bool ProtocolSpec::supported(size_t s, uint64_t flags) const {
  if (s >= states.size() || (states[s].attrs & kAttrError)) return false;
  return (states[s].needs & flags) == states[s].needs;
}

uint64_t ProtocolSpec::mandatory_flags() const {
  uint64_t m = 0;
  for (const auto& f : features)
    if (f.mandatory) m |= f.flag;
  return m;
}
uint64_t ProtocolSpec::all_flags() const {
  uint64_t m = 0;
  for (const auto& f : features) m |= f.flag;
  return m;
}

std::optional<uint64_t> ProtocolSpec::parse_features(std::string_view list) const {
  uint64_t flags = 0;
  std::stringstream ss{std::string(list)};
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool found = false;
    for (const auto& f : features)
      if (f.name == item) {
        flags |= f.flag;
        found = true;
      }
    if (!found) return std::nullopt;
  }
  return flags;
}

std::string ProtocolSpec::features_name(uint64_t flags) const {
  std::string out;
  for (const auto& f : features)
    if (flags & f.flag) out += (out.empty() ? "" : ",") + f.name;
  return out.empty() ? "none" : out;
}

std::vector<const ProtocolArc*> ProtocolSpec::arcs_for(uint64_t flags) const {
  std::vector<const ProtocolArc*> out;
  for (const auto& a : arcs)
    if ((a.needs & flags) == a.needs && (a.unless & flags) == 0 && supported(a.from, flags) &&
        supported(a.to, flags))
      out.push_back(&a);
  return out;
}

const ProtocolArc* ProtocolSpec::arc(size_t from, size_t to, uint64_t flags) const {
  for (const auto* a : arcs_for(flags))
    if (a->from == from && a->to == to) return a;
  return nullptr;
}

ProtocolSpec::Path ProtocolSpec::path(size_t cur, size_t target, uint64_t flags) const {
  Path p;
  p.states.push_back(cur);
  if (cur == target) return p;
  if (!supported(cur, flags) || !supported(target, flags)) {
    p.err = -EINVAL;
    return p;
  }
  for (const auto& [a, b] : blocked)
    if (a == cur && b == target) {
      p.err = -EINVAL;
      return p;
    }
  if (combination == Combination::kDirect) {
    if (!arc(cur, target, flags)) {
      p.err = -EINVAL;
      return p;
    }
    p.states.push_back(target);
    return p;
  }
  // BFS over (state, arrived-by-keep): a state with a session is interior
  // only when the session is carried through it.
  const size_t n = states.size();
  auto id = [n](size_t s, bool kept) { return s + (kept ? n : 0); };
  std::vector<long> parent(2 * n, -2);
  std::deque<std::pair<size_t, bool>> queue;
  parent[id(cur, false)] = -1;
  queue.emplace_back(cur, false);
  const auto usable = arcs_for(flags);
  while (!queue.empty()) {
    const auto [s, kept] = queue.front();
    queue.pop_front();
    if (s == target) {
      std::vector<size_t> rev;
      for (long v = static_cast<long>(id(s, kept)); v >= 0; v = parent[static_cast<size_t>(v)])
        rev.push_back(static_cast<size_t>(v) % n);
      p.states.assign(rev.rbegin(), rev.rend());
      return p;
    }
    const bool interior_blocked = s != cur && has_session(s) && !kept;
    if (interior_blocked) continue;
    for (const auto* a : usable) {
      if (a->from != s) continue;
      if (s != cur && has_session(s) && !carries(a->session)) continue;
      const bool k = carries(a->session);
      const size_t v = id(a->to, k);
      if (parent[v] != -2) continue;
      parent[v] = static_cast<long>(id(s, kept));
      queue.emplace_back(a->to, k);
    }
  }
  p.err = -EINVAL;
  return p;
}

int ProtocolSpec::next_step(size_t cur, size_t target, uint64_t flags, size_t& next) const {
  const Path p = path(cur, target, flags);
  if (p.err) return p.err;
  next = p.states.size() > 1 ? p.states[1] : cur;
  return 0;
}

ProtocolSpec parse_protocol(std::string_view text, const std::string& file) {
  Json j;
  try {
    j = Json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for 1e999
    throw ProtocolError(file + ": not valid JSON: " + e.what());
  }
  ProtocolSpec p;
  p.file = file;
  Obj root(j, file, "$");
  root.allow({"$schema", "name", "description", "encoding", "features", "states", "arcs", "blocked",
              "combination", "postcopy"});
  if (root.has("$schema") && root.str("$schema") != "mdevsim.protocol/1")
    root.fail("$schema", "must be \"mdevsim.protocol/1\"");
  p.name = root.str("name");
  p.description = root.str("description", "");
  {
    Obj e(root.at("encoding"), file, "$.encoding");
    e.allow({"kind", "register", "width", "via"});
    const std::string kind = e.str("kind");
    if (kind == "bits") {
      p.encoding = ProtocolSpec::Encoding::kBits;
      p.bit_width = static_cast<uint32_t>(e.uint("width"));
      if (p.bit_width == 0 || p.bit_width > 31) e.fail("width", "must be 1..31");
    } else if (kind == "enum") {
      p.encoding = ProtocolSpec::Encoding::kEnum;
    } else {
      e.fail("kind", "must be \"bits\" (v1-style register) or \"enum\" (v2-style feature ioctl)");
    }
  }
  const std::string comb = root.str("combination", "shortest_path");
  if (comb == "shortest_path")
    p.combination = ProtocolSpec::Combination::kShortestPath;
  else if (comb == "direct")
    p.combination = ProtocolSpec::Combination::kDirect;
  else
    root.fail("combination",
              "must be \"shortest_path\" (v2 kernel rule) or \"direct\" (v1: one write, one arc)");

  if (root.has("features")) {
    if (!root.at("features").is_array()) root.fail("features", "must be an array");
    size_t i = 0;
    for (const auto& fj : root.at("features")) {
      Obj fo(fj, file, "$.features[" + std::to_string(i++) + "]");
      fo.allow({"name", "flag", "mandatory", "meaning"});
      ProtocolFeature ft{fo.str("name"), fo.uint("flag"), fo.boolean("mandatory", false)};
      if (ft.flag == 0 || (ft.flag & (ft.flag - 1)))
        fo.fail("flag", "must be a single bit (1, 2, 4, ...)");
      for (const auto& other : p.features)
        if (other.flag == ft.flag || other.name == ft.name)
          fo.fail("",
                  "feature \"" + ft.name + "\" repeats a name or flag of \"" + other.name + "\"");
      p.features.push_back(ft);
    }
  }
  auto feature_flags = [&](const Obj& o, const char* key) {
    uint64_t flags = 0;
    for (const auto& name : o.strings(key)) {
      const auto f = p.parse_features(name);
      if (!f)
        o.fail(key, "unknown feature \"" + name +
                        "\" (features: " + p.features_name(p.all_flags()) + ")");
      flags |= *f;
    }
    return flags;
  };

  if (!root.has("states") || !root.at("states").is_array() || root.at("states").empty())
    root.fail("states", "must be a non-empty array");
  size_t i = 0;
  for (const auto& sj : root.at("states")) {
    const std::string path = "$.states[" + std::to_string(i++) + "]";
    Obj so(sj, file, path);
    so.allow({"name", "value", "attributes", "requires", "data", "meaning"});
    ProtocolState st;
    st.name = so.str("name");
    if (st.name.empty()) so.fail("name", "must not be empty");
    const std::string named = file + ": state \"" + st.name + "\": ";
    if (!so.has("value")) so.fail("value", "is required");
    if (so.at("value").is_string()) {
      const std::string v = so.at("value").get<std::string>();
      if (v.size() < 2 || v.back() != 'b' ||
          !std::all_of(v.begin(), v.end() - 1, [](char c) { return c == '0' || c == '1'; }))
        throw ProtocolError(named + "value \"" + v + "\" is not a bit pattern such as \"011b\"");
      st.value = static_cast<uint32_t>(std::stoul(v.substr(0, v.size() - 1), nullptr, 2));
    } else {
      st.value = static_cast<uint32_t>(so.uint("value"));
    }
    for (const auto& a : so.strings("attributes")) {
      uint32_t bit = 0;
      for (const auto& [n, v] : kAttrNames)
        if (a == n) bit = v;
      if (!bit)
        throw ProtocolError(named + "unknown attribute \"" + a +
                            "\" (attributes: " + choices(kAttrNames) + ")");
      st.attrs |= bit;
    }
    st.needs = feature_flags(so, "requires");
    const std::string data = so.str("data", "none");
    bool found = false;
    for (const auto& [n, v] : kDataNames)
      if (data == n) {
        st.data = v;
        found = true;
      }
    if (!found)
      throw ProtocolError(named + "unknown data rule \"" + data +
                          "\" (rules: " + choices(kDataNames) + ")");
    st.meaning = so.str("meaning", "");
    p.states.push_back(st);
  }
  for (size_t s = 0; s < p.states.size(); ++s) {
    if (p.states[s].attrs & kAttrDefault) p.default_state = s;
    if (p.states[s].attrs & kAttrError) p.error_state = s;
  }
  auto state_ref = [&](const Obj& o, const char* key) {
    const std::string name = o.str(key);
    for (size_t s = 0; s < p.states.size(); ++s)
      if (p.states[s].name == name) return s;
    o.fail(key, "unknown state \"" + name + "\"");
  };
  if (root.has("arcs")) {
    if (!root.at("arcs").is_array()) root.fail("arcs", "must be an array");
    i = 0;
    for (const auto& aj : root.at("arcs")) {
      Obj ao(aj, file, "$.arcs[" + std::to_string(i++) + "]");
      ao.allow({"from", "to", "session", "requires", "unless", "strict", "meaning"});
      ProtocolArc a;
      a.from = state_ref(ao, "from");
      a.to = state_ref(ao, "to");
      const std::string sess = ao.str("session", "none");
      bool found = false;
      for (const auto& [n, v] : kSessionNames)
        if (sess == n) {
          a.session = v;
          found = true;
        }
      if (!found)
        ao.fail("session", "unknown data-session effect \"" + sess +
                               "\" (effects: " + choices(kSessionNames) + ")");
      a.needs = feature_flags(ao, "requires") | p.states[a.from].needs | p.states[a.to].needs;
      a.unless = feature_flags(ao, "unless");
      a.strict = ao.boolean("strict", true);
      for (const auto& b : p.arcs)
        if (b.from == a.from && b.to == a.to && b.needs == a.needs && b.unless == a.unless)
          ao.fail("", "arc " + p.states[a.from].name + " -> " + p.states[a.to].name +
                          " is listed twice");
      p.arcs.push_back(a);
    }
  }
  if (root.has("blocked")) {
    if (!root.at("blocked").is_array()) root.fail("blocked", "must be an array");
    i = 0;
    for (const auto& bj : root.at("blocked")) {
      Obj bo(bj, file, "$.blocked[" + std::to_string(i++) + "]");
      bo.allow({"from", "to", "why"});
      p.blocked.emplace_back(state_ref(bo, "from"), state_ref(bo, "to"));
    }
  }
  if (root.has("postcopy")) {
    Obj po(root.at("postcopy"), file, "$.postcopy");
    po.allow({"device_pages", "fault_delivery", "fault_latency", "poll_interval", "meaning"});
    PostcopyRules r;
    r.device_pages = po.boolean("device_pages", false);
    r.fault_delivery = po.str("fault_delivery", "eventfd");
    if (r.fault_delivery != "eventfd" && r.fault_delivery != "poll")
      po.fail("fault_delivery", "must be \"eventfd\" or \"poll\"");
    r.fault_latency_s = parse_seconds(po, "fault_latency", r.fault_latency_s);
    r.poll_interval_s = parse_seconds(po, "poll_interval", r.poll_interval_s);
    if (r.poll_interval_s <= 0) po.fail("poll_interval", "must be above 0");
    p.postcopy = r;
  }
  validate(p);
  if (p.postcopy && p.postcopy->device_pages) {
    bool serve = false, resume_running = false;
    for (const auto& st : p.states) {
      serve |= st.data == DataRule::kServe;
      resume_running |= st.data == DataRule::kResumeRunning;
    }
    if (!serve || !resume_running)
      throw ProtocolError(
          file +
          ": $.postcopy.device_pages: needs a state with data \"serve\" (source) and one "
          "with \"resume_running\" (destination)");
  }
  return p;
}

ProtocolSpec load_protocol_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ProtocolError(path + ": cannot open the protocol file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_protocol(ss.str(), path);
}

// Generated at build time from scenarios/protocols/*.json.
struct BuiltinProtocolFile {
  const char* name;
  const char* text;
};
extern const char* const kBuiltinProtocolV1;
extern const char* const kBuiltinProtocolV2;
extern const BuiltinProtocolFile kBuiltinProtocolFiles[];
extern const size_t kBuiltinProtocolFileCount;

const ProtocolSpec& builtin_protocol_v1() {
  static const ProtocolSpec p = parse_protocol(kBuiltinProtocolV1, "scenarios/protocols/v1.json");
  return p;
}
const ProtocolSpec& builtin_protocol_v2() {
  static const ProtocolSpec p = parse_protocol(kBuiltinProtocolV2, "scenarios/protocols/v2.json");
  return p;
}

namespace {
// A shipped file by its name ("v2-postcopy" or "v2-postcopy.json").
std::optional<ProtocolSpec> shipped(std::string name) {
  if (name.ends_with(".json")) name.resize(name.size() - 5);
  for (size_t i = 0; i < kBuiltinProtocolFileCount; ++i)
    if (name == kBuiltinProtocolFiles[i].name)
      return parse_protocol(kBuiltinProtocolFiles[i].text, "scenarios/protocols/" + name + ".json");
  return std::nullopt;
}
}  // namespace

ProtocolSpec resolve_protocol(const std::string& name, const std::string& relative_to) {
  if (name == "v1") return builtin_protocol_v1();
  if (name == "v2") return builtin_protocol_v2();
  const bool looks_like_path = name.find('/') != std::string::npos || name.ends_with(".json");
  if (!looks_like_path) {
    if (auto p = shipped(name)) return *p;
    throw ProtocolError(name +
                        ": no such protocol (use v1, v2, a shipped name such as v2-postcopy, or "
                        "a file path)");
  }
  std::vector<std::string> candidates;
  if (!relative_to.empty() && name[0] != '/') candidates.push_back(relative_to + "/" + name);
  candidates.push_back(name);
  for (const auto& c : candidates)
    if (std::filesystem::is_regular_file(c) && std::ifstream(c)) return load_protocol_file(c);
  // A bare shipped file name ("v2-postcopy.json") not found on disk.
  if (name.find('/') == std::string::npos)
    if (auto p = shipped(name)) return *p;
  // It was meant as a file: say what is wrong with it, where it was looked for.
  const std::string& where = candidates.front();
  std::error_code ec;
  if (std::filesystem::is_directory(where, ec))
    throw ProtocolError(where + ": is a directory, not a protocol file");
  if (std::filesystem::exists(where, ec))
    throw ProtocolError(where + ": cannot open the protocol file");
  throw ProtocolError(where + ": the protocol file does not exist" +
                      (where != name ? " (a relative path is relative to the scenario)" : ""));
}

}  // namespace mdevsim::vfio
