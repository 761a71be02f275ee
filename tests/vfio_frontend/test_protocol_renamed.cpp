// A protocol file is data: a copy of v2.json (and of each post-copy
// proposal) with every state renamed and renumbered must behave exactly like
// the original at the frontend. Every (from, to) pair for every feature set
// is driven on a recording device under both files and the outcomes are
// compared through the renaming: errno, data fd handed out, state reached,
// the device calls made, the walked path, the notes, and what the old and new
// data fds answer afterwards.
#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/vfio/feature_buf.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"
#include "mdevsim/vfio/uapi.h"
#include "recording_device.h"

namespace mdevsim::vfio::testing {
namespace {

std::string json_str(const std::string& s) { return "\"" + s + "\""; }

std::string feature_list(const ProtocolSpec& p, uint64_t flags) {
  std::string out;
  for (const auto& f : p.features)
    if (flags & f.flag) out += (out.empty() ? "" : ", ") + json_str(f.name);
  return "[" + out + "]";
}

std::string attr_list(uint32_t attrs) {
  std::string out, names = attrs_name(attrs), item;
  if (names == "none") return "[]";
  std::stringstream ss(names);
  while (std::getline(ss, item, ',')) out += (out.empty() ? "" : ", ") + json_str(item);
  return "[" + out + "]";
}

// `p` written back as a protocol file, state i named names[i] with value values[i].
std::string renamed_copy(const ProtocolSpec& p, const std::vector<std::string>& names,
                         const std::vector<uint32_t>& values) {
  std::string j =
      "{\"name\": " + json_str(p.name + "-renamed") +
      ", \"encoding\": {\"kind\": \"enum\"}, \"combination\": " +
      json_str(p.combination == ProtocolSpec::Combination::kDirect ? "direct" : "shortest_path") +
      ", \"features\": [";
  for (size_t i = 0; i < p.features.size(); ++i)
    j += std::string(i ? ", " : "") + "{\"name\": " + json_str(p.features[i].name) +
         ", \"flag\": " + std::to_string(p.features[i].flag) +
         ", \"mandatory\": " + (p.features[i].mandatory ? "true" : "false") + "}";
  j += "], \"states\": [";
  for (size_t i = 0; i < p.states.size(); ++i) {
    const auto& s = p.states[i];
    j += std::string(i ? ", " : "") + "{\"name\": " + json_str(names[i]) +
         ", \"value\": " + std::to_string(values[i]) + ", \"attributes\": " + attr_list(s.attrs) +
         ", \"requires\": " + feature_list(p, s.needs) +
         ", \"data\": " + json_str(data_rule_name(s.data)) + "}";
  }
  j += "], \"arcs\": [";
  for (size_t i = 0; i < p.arcs.size(); ++i) {
    const auto& a = p.arcs[i];
    j += std::string(i ? ", " : "") + "{\"from\": " + json_str(names[a.from]) +
         ", \"to\": " + json_str(names[a.to]) +
         ", \"session\": " + json_str(arc_session_name(a.session)) +
         ", \"requires\": " + feature_list(p, a.needs) +
         ", \"unless\": " + feature_list(p, a.unless) + "}";
  }
  j += "], \"blocked\": [";
  for (size_t i = 0; i < p.blocked.size(); ++i)
    j += std::string(i ? ", " : "") + "{\"from\": " + json_str(names[p.blocked[i].first]) +
         ", \"to\": " + json_str(names[p.blocked[i].second]) + "}";
  j += "]";
  if (p.postcopy)
    j += ", \"postcopy\": {\"device_pages\": " +
         std::string(p.postcopy->device_pages ? "true" : "false") +
         ", \"fault_delivery\": " + json_str(p.postcopy->fault_delivery) + "}";
  return j + "}";
}

enum class Renumbering {
  kFresh,    // values no kernel state has (40, 43, ...): v2's pairs never match
  kRotated,  // v2's own values, rotated by 3: v2's pairs match the wrong states
};

struct Renamed {
  std::shared_ptr<const ProtocolSpec> spec;
  std::vector<std::string> names;  // new name of original state i
  // Maps every new name in a text back to the original one.
  std::string original(std::string text) const {
    for (size_t i = 0; i < names.size(); ++i)
      for (size_t at = text.find(names[i]); at != std::string::npos; at = text.find(names[i], at))
        text.replace(at, names[i].size(), orig->states[i].name);
    return text;
  }
  const ProtocolSpec* orig = nullptr;
};

Renamed rename(const ProtocolSpec& p, Renumbering how) {
  Renamed r;
  r.orig = &p;
  std::vector<uint32_t> values;
  const size_t n = p.states.size();
  for (size_t i = 0; i < n; ++i) {
    // Fixed-length names: none is part of another or of any original name.
    r.names.push_back(std::string("Qs") + static_cast<char>('a' + i) + "Q");
    values.push_back(how == Renumbering::kFresh ? static_cast<uint32_t>(40 + 3 * (n - 1 - i))
                                                : p.states[(i + 3) % n].value);
  }
  r.spec = std::make_shared<const ProtocolSpec>(
      parse_protocol(renamed_copy(p, r.names, values), p.name + "-renamed.json"));
  return r;
}

struct Outcome {
  long ret = 0;
  bool new_fd = false;
  std::string state;
  std::vector<std::string> device, path, notes;
  long old_read = 0, old_write = 0, new_read = 0, new_write = 0;
  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o) {
  std::ostringstream s;
  s << "ret=" << o.ret << " new_fd=" << o.new_fd << " state=" << o.state << " device=[";
  for (const auto& d : o.device) s << d << ";";
  s << "] path=[";
  for (const auto& d : o.path) s << d << ";";
  s << "] notes=[";
  for (const auto& d : o.notes) s << d << ";";
  s << "] old io=" << o.old_read << "/" << o.old_write << " new io=" << o.new_read << "/"
    << o.new_write;
  return s.str();
}

class LastCall : public CallObserver {
 public:
  void on_call(const CallRecord& r) override { last = r; }
  CallRecord last;
};

long set_value(Frontend& fe, uint32_t value, int& fd) {
  FeatureBuf<vfio_device_feature_mig_state> b(VFIO_DEVICE_FEATURE_SET |
                                              VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE);
  b.payload.device_state = value;
  b.payload.data_fd = 12345;
  const long r = fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &b);
  fd = b.payload.data_fd;
  return r;
}

// Drives a fresh frontend under `spec` into state `from`, then asks for `to`.
// `map` turns the protocol's names back into the original's.
Outcome run(std::shared_ptr<const ProtocolSpec> spec, uint64_t flags, size_t from, size_t to,
            bool image_written, const std::function<std::string(std::string)>& map) {
  const ProtocolSpec& p = *spec;
  RecordingDevice dev;
  FrontendOptions o;
  o.protocol_def = spec;
  o.migration_flags = flags;
  Frontend fe(dev, o);
  LastCall calls;
  fe.set_observer(&calls);
  int old_fd = -1, unused = -1;
  uint8_t byte[4] = {1, 2, 3, 4};
  if (p.states[from].attrs & kAttrError) {
    // The error state is reached only by a failed arc: fail the first arc
    // leaving the default state.
    const auto arcs = p.arcs_for(flags);
    const auto a = std::find_if(arcs.begin(), arcs.end(),
                                [&](const ProtocolArc* x) { return x->from == p.default_state; });
    EXPECT_NE(a, arcs.end());
    fe.inject_arc_failure(p.states[(*a)->from].value, p.states[(*a)->to].value);
    EXPECT_EQ(set_value(fe, p.states[(*a)->to].value, unused), -EIO);
  } else if (p.states[from].data == DataRule::kResumeRunning) {
    // A running destination is reached through resuming with a switch package.
    const auto resume = std::find_if(p.states.begin(), p.states.end(),
                                     [](const auto& s) { return s.data == DataRule::kResume; });
    if (resume == p.states.end()) {
      ADD_FAILURE() << "a resume_running state needs a resume state";
      return {};
    }
    EXPECT_EQ(set_value(fe, resume->value, old_fd), 0);
    EXPECT_EQ(fe.write(old_fd, byte, 4), 4);
    EXPECT_EQ(set_value(fe, p.states[from].value, unused), 0) << p.states[from].name;
  } else if (from != p.default_state) {
    EXPECT_EQ(set_value(fe, p.states[from].value, old_fd), 0) << p.states[from].name;
  }
  if (image_written && old_fd >= 0) EXPECT_EQ(fe.write(old_fd, byte, 4), 4);
  dev.log.clear();
  Outcome out;
  int new_fd = -1;
  out.ret = set_value(fe, p.states[to].value, new_fd);
  out.new_fd = new_fd >= 0;
  out.state = map(fe.state_name());
  out.device = dev.log;
  for (const auto& s : calls.last.path) out.path.push_back(map(s));
  for (const auto& s : calls.last.notes) out.notes.push_back(map(s));
  if (old_fd >= 0) {
    out.old_read = fe.read(old_fd, byte, 4);
    out.old_write = fe.write(old_fd, byte, 4);
  }
  if (new_fd >= 0) {
    out.new_read = fe.read(new_fd, byte, 4);
    out.new_write = fe.write(new_fd, byte, 4);
  }
  return out;
}

std::vector<uint64_t> feature_sets(const ProtocolSpec& p) {
  std::vector<uint64_t> optional, out;
  for (const auto& f : p.features)
    if (!f.mandatory) optional.push_back(f.flag);
  for (uint64_t mask = 0; mask < (uint64_t{1} << optional.size()); ++mask) {
    uint64_t flags = p.mandatory_flags();
    for (size_t b = 0; b < optional.size(); ++b)
      if (mask & (uint64_t{1} << b)) flags |= optional[b];
    out.push_back(flags);
  }
  return out;
}

struct Case {
  const char* protocol;
  Renumbering how;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.protocol << (c.how == Renumbering::kFresh ? " fresh" : " rotated");
}

class ProtocolRenamed : public ::testing::TestWithParam<Case> {};

TEST_P(ProtocolRenamed, EveryArcAndPathBehavesAsInTheOriginal) {
  const auto orig = std::make_shared<const ProtocolSpec>(resolve_protocol(GetParam().protocol));
  const Renamed renamed = rename(*orig, GetParam().how);
  const auto same = [](std::string s) { return s; };
  const auto back = [&](std::string s) { return renamed.original(std::move(s)); };
  size_t cases = 0, succeeded = 0, refused = 0, fds = 0;
  for (const uint64_t flags : feature_sets(*orig)) {
    for (size_t from = 0; from < orig->states.size(); ++from) {
      if (!orig->supported(from, flags) && !(orig->states[from].attrs & kAttrError)) continue;
      const bool resuming = orig->states[from].attrs & kAttrResuming;
      for (size_t to = 0; to < orig->states.size(); ++to) {
        for (const bool written : {false, true}) {
          if (written && !resuming) continue;
          const Outcome want = run(orig, flags, from, to, written, same);
          const Outcome got = run(renamed.spec, flags, from, to, written, back);
          EXPECT_EQ(got, want) << orig->features_name(flags) << ": " << orig->states[from].name
                               << " -> " << orig->states[to].name
                               << (written ? " (image written)" : "") << "\n  want "
                               << describe(want) << "\n  got  " << describe(got);
          ++cases;
          (want.ret == 0 ? succeeded : refused) += 1;
          fds += want.new_fd;
        }
      }
    }
  }
  // Not vacuous: arcs ran, some opened fds, some were refused.
  EXPECT_GT(succeeded, orig->arcs.size());
  EXPECT_GT(refused, 0u);
  EXPECT_GT(fds, 0u);
  RecordProperty("cases", static_cast<int>(cases));
}

INSTANTIATE_TEST_SUITE_P(, ProtocolRenamed,
                         ::testing::Values(Case{"v2", Renumbering::kFresh},
                                           Case{"v2", Renumbering::kRotated},
                                           Case{"v2-postcopy", Renumbering::kFresh},
                                           Case{"v2-postcopy", Renumbering::kRotated},
                                           Case{"v2-postcopy-poll", Renumbering::kFresh},
                                           Case{"v2-postcopy-ram-only", Renumbering::kRotated}),
                         [](const auto& info) {
                           std::string n =
                               std::string(info.param.protocol) +
                               (info.param.how == Renumbering::kFresh ? "_fresh" : "_rotated");
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// The v2 states with v2's own values rotated: a frontend that keyed arc
// effects on v2's state values would stop, start or open fds for the wrong
// pairs here; one that keyed them on the arc lists of v2 would find "no such
// single arc". Each effect below is what the arc's session and the two
// states' attributes say.
TEST(ProtocolRenamedEffects, RotatedV2GetsTheEffectsOfItsOwnStates) {
  const ProtocolSpec& v2 = builtin_protocol_v2();
  const Renamed r = rename(v2, Renumbering::kRotated);
  const auto idx = [&](const char* name) { return *v2.find(name); };
  const auto value = [&](const char* name) { return r.spec->states[idx(name)].value; };
  ASSERT_NE(value("RUNNING"), 2u) << "the rotation must move RUNNING off its kernel value";

  RecordingDevice dev;
  FrontendOptions o;
  o.protocol_def = r.spec;
  o.migration_flags = v2.all_flags();
  Frontend fe(dev, o);
  LastCall calls;
  fe.set_observer(&calls);
  EXPECT_EQ(fe.state_value(), value("RUNNING")) << "the default state comes from the file";
  int fd = -1;

  // RUNNING -> PRE_COPY: a new save fd while the device keeps running.
  ASSERT_EQ(set_value(fe, value("PRE_COPY"), fd), 0) << calls.last.notes.back();
  EXPECT_GE(fd, 0);
  EXPECT_EQ(dev.log, (std::vector<std::string>{"open_save"}));
  EXPECT_TRUE(dev.running());
  // PRE_COPY -> STOP_COPY (through PRE_COPY_P2P with p2p): stop, same fd, finalized.
  dev.log.clear();
  int none = -1;
  ASSERT_EQ(set_value(fe, value("STOP_COPY"), none), 0) << calls.last.notes.back();
  EXPECT_EQ(none, -1);
  EXPECT_EQ(dev.log, (std::vector<std::string>{"p2p 1", "run 0", "p2p 0", "save.finalize"}));
  EXPECT_FALSE(dev.running());
  uint8_t buf[16];
  EXPECT_EQ(fe.read(fd, buf, sizeof buf), 8) << "the save fd carries on";
  // STOP_COPY -> STOP ends the session: the fd fails with ENODEV.
  ASSERT_EQ(set_value(fe, value("STOP"), none), 0);
  EXPECT_EQ(fe.read(fd, buf, sizeof buf), -ENODEV);
  // STOP -> RUNNING with p2p: through RUNNING_P2P, the device runs again.
  dev.log.clear();
  ASSERT_EQ(set_value(fe, value("RUNNING"), none), 0);
  EXPECT_EQ(dev.log, (std::vector<std::string>{"p2p 1", "run 1", "p2p 0"}));
  EXPECT_EQ(calls.last.path,
            (std::vector<std::string>{r.names[idx("STOP")], r.names[idx("RUNNING_P2P")],
                                      r.names[idx("RUNNING")]}));
  for (const auto& n : calls.last.notes) EXPECT_EQ(n.find("no such single arc"), std::string::npos);
  // The error state of the file is refused by its own name.
  EXPECT_EQ(set_value(fe, value("ERROR"), none), -EINVAL);
  EXPECT_EQ(calls.last.notes.back(), "EINVAL: " + r.names[idx("ERROR")] + " cannot be requested");
}

}  // namespace
}  // namespace mdevsim::vfio::testing
