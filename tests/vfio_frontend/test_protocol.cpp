// Protocols as data: the shipped files, the derivation of combination paths
// and the validation of malformed files.
//
// The expectation for v2 is the kernel's own next-step table and algorithm
// (drivers/vfio/vfio_main.c, vfio_mig_get_next_state), transcribed here from
// the reference fact sheet; the implementation derives the same answers from
// scenarios/protocols/v2.json and never sees this table.
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/vfio/protocol.h"

namespace mdevsim::vfio {
namespace {

std::string source_file(const std::string& rel) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/" + rel;
}

// ---- the kernel's table (values: uAPI enum) -------------------------------
enum K : uint32_t { ERR = 0, STOP = 1, RUN = 2, SC = 3, RES = 4, RP2P = 5, PC = 6, PCP2P = 7 };
constexpr uint32_t kKernelNext[8][8] = {
    /* ERROR */ {ERR, ERR, ERR, ERR, ERR, ERR, ERR, ERR},
    /* STOP */ {ERR, STOP, RP2P, SC, RES, RP2P, RP2P, RP2P},
    /* RUNNING */ {ERR, RP2P, RUN, RP2P, RP2P, RP2P, PC, RP2P},
    /* STOP_COPY */ {ERR, STOP, STOP, SC, STOP, STOP, ERR, ERR},
    /* RESUMING */ {ERR, STOP, STOP, STOP, RES, STOP, STOP, STOP},
    /* RUNNING_P2P */ {ERR, STOP, RUN, STOP, STOP, RP2P, RUN, PCP2P},
    /* PRE_COPY */ {ERR, RUN, RUN, PCP2P, RUN, RUN, PC, PCP2P},
    /* PRE_COPY_P2P */ {ERR, RP2P, RP2P, SC, RP2P, RP2P, PC, PCP2P},
};
constexpr uint64_t kKernelStateFlags[8] = {~uint64_t{0}, 1, 1, 1, 1, 1 | 2, 1 | 4, 1 | 2 | 4};

bool kernel_supported(uint32_t s, uint64_t flags) {
  return (kKernelStateFlags[s] & flags) == kKernelStateFlags[s];
}
// The kernel algorithm (with the v7.2 fix: the skip loop stops at ERROR).
int kernel_next(uint32_t cur, uint32_t target, uint64_t flags, uint32_t& next) {
  if (!kernel_supported(cur, flags) || !kernel_supported(target, flags)) return -EINVAL;
  next = kKernelNext[cur][target];
  while (next != ERR && !kernel_supported(next, flags)) next = kKernelNext[next][target];
  return next == ERR ? -EINVAL : 0;
}

TEST(ProtocolSpec, V2FileDerivesTheKernelNextStepTableForAllFourFeatureSets) {
  const ProtocolSpec p = load_protocol_file(source_file("scenarios/protocols/v2.json"));
  int compared = 0;
  for (uint64_t flags : {uint64_t{1}, uint64_t{1 | 2}, uint64_t{1 | 4}, uint64_t{1 | 2 | 4}}) {
    for (uint32_t cur = 1; cur < 8; ++cur) {
      if (!kernel_supported(cur, flags)) continue;
      for (uint32_t target = 0; target < 8; ++target) {
        if (target == cur) continue;
        uint32_t want = 0;
        const int want_err = kernel_next(cur, target, flags, want);
        size_t got = 0;
        const int got_err = p.next_step(*p.by_value(cur), *p.by_value(target), flags, got);
        SCOPED_TRACE("features " + p.features_name(flags) + ": " + p.states[*p.by_value(cur)].name +
                     " -> " + p.states[*p.by_value(target)].name);
        ASSERT_EQ(got_err, want_err);
        if (want_err == 0) {
          EXPECT_EQ(p.states[got].value, want);
        }
        ++compared;
      }
    }
  }
  // 4 sets: 4*4 + 5*5 + 5*5 + 7*7 (cur, target != cur over the 8 values)
  EXPECT_EQ(compared, 4 * 7 + 5 * 7 + 5 * 7 + 7 * 7);
}

TEST(ProtocolSpec, WholePathsFollowTheKernelStepByStep) {
  const ProtocolSpec p = load_protocol_file(source_file("scenarios/protocols/v2.json"));
  for (uint64_t flags : {uint64_t{1}, uint64_t{3}, uint64_t{5}, uint64_t{7}})
    for (uint32_t cur = 1; cur < 8; ++cur)
      for (uint32_t target = 1; target < 8; ++target) {
        if (!kernel_supported(cur, flags) || !kernel_supported(target, flags)) continue;
        const auto path = p.path(*p.by_value(cur), *p.by_value(target), flags);
        uint32_t at = cur, next = 0;
        std::vector<uint32_t> want{cur};
        int err = 0;
        while (at != target && (err = kernel_next(at, target, flags, next)) == 0) {
          want.push_back(next);
          at = next;
        }
        ASSERT_EQ(path.err, err);
        if (err) continue;
        std::vector<uint32_t> got;
        for (size_t s : path.states) got.push_back(p.states[s].value);
        EXPECT_EQ(got, want) << p.features_name(flags);
      }
}

TEST(ProtocolSpec, BuiltinProtocolsAreTheShippedFiles) {
  const ProtocolSpec v2 = load_protocol_file(source_file("scenarios/protocols/v2.json"));
  const ProtocolSpec& b = builtin_protocol_v2();
  ASSERT_EQ(b.states.size(), v2.states.size());
  ASSERT_EQ(b.arcs.size(), v2.arcs.size());
  for (size_t i = 0; i < b.arcs.size(); ++i) {
    EXPECT_EQ(b.arcs[i].from, v2.arcs[i].from);
    EXPECT_EQ(b.arcs[i].session, v2.arcs[i].session);
  }
  EXPECT_EQ(builtin_protocol_v1().states.size(), 6u);
}

// Shipped proposals are compiled in as well: they resolve by name wherever
// the binary runs, with no source-tree path in the library.
TEST(ProtocolSpec, ShippedProposalsResolveByNameAwayFromTheSourceTree) {
  const auto here = std::filesystem::current_path();
  std::filesystem::current_path(std::filesystem::temp_directory_path());
  for (const char* name : {"v2-postcopy", "v2-postcopy.json", "v1-postcopy-101b"}) {
    const ProtocolSpec p = resolve_protocol(name);
    std::string base = name;
    if (!base.ends_with(".json")) base += ".json";
    EXPECT_EQ(p.file, "scenarios/protocols/" + base);
    const ProtocolSpec disk = load_protocol_file(source_file("scenarios/protocols/" + base));
    EXPECT_EQ(p.name, disk.name);
    EXPECT_EQ(p.states.size(), disk.states.size());
    EXPECT_EQ(p.arcs.size(), disk.arcs.size());
  }
  EXPECT_THROW(resolve_protocol("v3"), ProtocolError);
  std::filesystem::current_path(here);
}

TEST(ProtocolSpec, V1FileGivesTheBitRulesAndTheStrictTable) {
  const ProtocolSpec p = load_protocol_file(source_file("scenarios/protocols/v1.json"));
  EXPECT_EQ(p.encoding, ProtocolSpec::Encoding::kBits);
  EXPECT_FALSE(p.by_value(5)) << "101b is not a v1 state";
  EXPECT_FALSE(p.by_value(7)) << "111b is not a v1 state";
  ASSERT_TRUE(p.error_state);
  EXPECT_EQ(p.states[*p.error_state].value, 6u) << "110b is the error state";
  EXPECT_EQ(p.states[p.default_state].value, 1u) << "001b after reset";
  // libvfio-user's table (read as intended): from 000 only 001 is allowed.
  const size_t s000 = *p.by_value(0), s010 = *p.by_value(2), s100 = *p.by_value(4),
               s001 = *p.by_value(1);
  EXPECT_FALSE(p.arc(s000, s010, 0)->strict);
  EXPECT_TRUE(p.arc(s000, s001, 0)->strict);
  EXPECT_TRUE(p.arc(s100, s001, 0)->strict);
  EXPECT_EQ(p.arc(s100, s001, 0)->session, ArcSession::kEndResume);
}

TEST(ProtocolSpec, ShippedProposalsValidateAndDefinePostCopy) {
  for (const char* name :
       {"v1-postcopy-101b", "v2-postcopy", "v2-postcopy-poll", "v2-postcopy-ram-only"}) {
    SCOPED_TRACE(name);
    const ProtocolSpec p = resolve_protocol(name);
    ASSERT_TRUE(p.postcopy);
  }
  const ProtocolSpec v1pc = resolve_protocol("v1-postcopy-101b");
  const auto s101 = v1pc.by_value(5);
  ASSERT_TRUE(s101) << "the proposal makes 101b a state";
  EXPECT_EQ(v1pc.states[*s101].attrs, uint32_t{kAttrRunning | kAttrResuming});
  EXPECT_EQ(v1pc.states[*v1pc.by_value(2)].data, DataRule::kServe)
      << "the source in 010b keeps serving";

  const ProtocolSpec v2pc = resolve_protocol("v2-postcopy");
  const uint64_t all = v2pc.all_flags();
  const size_t run = *v2pc.find("RUNNING"), pre = *v2pc.find("PRE_COPY"),
               serve = *v2pc.find("POSTCOPY_SERVE"), res = *v2pc.find("RESUMING"),
               rr = *v2pc.find("RESUMING_RUNNING");
  // PRE_COPY -> POSTCOPY_SERVE keeps the fd through PRE_COPY_P2P when P2P is advertised.
  const auto a = v2pc.path(pre, serve, all);
  ASSERT_EQ(a.err, 0);
  ASSERT_EQ(a.states.size(), 3u);
  EXPECT_EQ(v2pc.states[a.states[1]].name, "PRE_COPY_P2P");
  // From RUNNING (no pre-copy) post-copy opens a fresh fd on the last arc.
  const auto b = v2pc.path(run, serve, all);
  ASSERT_EQ(b.err, 0);
  EXPECT_EQ(v2pc.states[b.states[b.states.size() - 2]].name, "STOP");
  EXPECT_EQ(v2pc.path(res, rr, all).states.size(), 2u);
  // Without the post_copy feature the new states do not exist.
  EXPECT_FALSE(v2pc.supported(serve, 1 | 2 | 4));
  EXPECT_EQ(v2pc.path(pre, serve, 1 | 2 | 4).err, -EINVAL);
  // And the v2 part still matches the kernel.
  for (uint32_t cur = 1; cur < 8; ++cur)
    for (uint32_t target = 1; target < 8; ++target) {
      if (cur == target) continue;
      uint32_t want = 0;
      size_t got = 0;
      const int want_err = kernel_next(cur, target, 7, want);
      ASSERT_EQ(v2pc.next_step(*v2pc.by_value(cur), *v2pc.by_value(target), all, got), want_err);
      if (!want_err) {
        EXPECT_EQ(v2pc.states[got].value, want);
      }
    }
}

// ---- malformed files -----------------------------------------------------
constexpr const char* kMinimal = R"({
  "name": "mini",
  "encoding": {"kind": "enum"},
  "states": [
    {"name": "ERROR", "value": 0, "attributes": ["error"]},
    {"name": "STOP", "value": 1},
    {"name": "RUNNING", "value": 2, "attributes": ["running", "default"]},
    {"name": "STOP_COPY", "value": 3, "attributes": ["saving"], "data": "save"}
  ],
  "arcs": [
    {"from": "RUNNING", "to": "STOP"}, {"from": "STOP", "to": "RUNNING"},
    {"from": "STOP", "to": "STOP_COPY", "session": "open_save"},
    {"from": "STOP_COPY", "to": "STOP", "session": "end_save"}
  ]
})";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string error_of(const std::string& text) {
  try {
    parse_protocol(text, "bad.json");
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ProtocolSpec, MinimalFileIsAccepted) { EXPECT_EQ(error_of(kMinimal), "(accepted)"); }

// Found by fuzz_protocol: a file without "encoding" (or another required
// object) threw nlohmann's out_of_range past every handler.
TEST(ProtocolSpec, AMissingRequiredObjectIsNamedNotACrash) {
  EXPECT_EQ(error_of(R"({"name": "x", "states": []})"), "bad.json: $.encoding: is required");
  EXPECT_NE(error_of(R"({"name": 1e999})").find("bad.json: not valid JSON"), std::string::npos)
      << "a number too large for a double";
}

TEST(ProtocolSpec, UnreachableStateIsNamed) {
  const auto text =
      replace(kMinimal, R"({"from": "STOP", "to": "STOP_COPY", "session": "open_save"},)", "");
  EXPECT_EQ(error_of(text),
            "bad.json: state \"STOP_COPY\": not reachable from the default state RUNNING");
}

TEST(ProtocolSpec, StateThatCannotGetBackToTheDefaultIsNamed) {
  const auto text =
      replace(kMinimal, R"({"from": "STOP_COPY", "to": "STOP", "session": "end_save"})",
              R"({"from": "RUNNING", "to": "STOP_COPY", "session": "open_save"})");
  EXPECT_EQ(error_of(text),
            "bad.json: state \"STOP_COPY\": the default state RUNNING cannot be reached from it");
}

TEST(ProtocolSpec, ArcIntoTheErrorStateIsRefused) {
  const auto text =
      replace(kMinimal, R"({"from": "RUNNING", "to": "STOP"},)",
              R"({"from": "RUNNING", "to": "STOP"}, {"from": "STOP", "to": "ERROR"},)");
  EXPECT_EQ(error_of(text),
            "bad.json: arc STOP -> ERROR: no arc may be requested into the error state \"ERROR\" "
            "(a device lands "
            "there only when an arc fails)");
}

TEST(ProtocolSpec, DuplicateEncodingIsRefused) {
  const auto text =
      replace(kMinimal, R"("name": "STOP_COPY", "value": 3)", R"("name": "STOP_COPY", "value": 1)");
  EXPECT_EQ(error_of(text),
            "bad.json: state \"STOP_COPY\": encoding 1 is already used by state \"STOP\"");
}

TEST(ProtocolSpec, UnknownAttributeIsRefused) {
  const auto text =
      replace(kMinimal, R"(["running", "default"])", R"(["running", "default", "fast"])");
  EXPECT_EQ(error_of(text),
            "bad.json: state \"RUNNING\": unknown attribute \"fast\" (attributes: running, saving, "
            "resuming, serving, "
            "p2p_quiesced, error, default)");
}

TEST(ProtocolSpec, InconsistentDataSessionIsRefused) {
  const auto text =
      replace(kMinimal, R"("to": "STOP_COPY", "session": "open_save")", R"("to": "STOP_COPY")");
  EXPECT_EQ(error_of(text),
            "bad.json: arc STOP -> STOP_COPY: data session \"none\" needs both ends without a data "
            "session (here "
            "none -> save)");
}

TEST(ProtocolSpec, SavingAttributeWithoutASaveRuleIsRefused) {
  const auto text = replace(kMinimal, R"(["saving"], "data": "save")", R"(["saving"])");
  EXPECT_NE(error_of(text).find(
                "bad.json: state \"STOP_COPY\": data rule \"none\" does not match its attributes"),
            std::string::npos)
      << error_of(text);
}

TEST(ProtocolSpec, UnknownStateInAnArcAndUnknownKeysNameTheJsonPath) {
  EXPECT_EQ(error_of(replace(kMinimal, R"({"from": "RUNNING", "to": "STOP"})",
                             R"({"from": "RUNING", "to": "STOP"})")),
            "bad.json: $.arcs[0].from: unknown state \"RUNING\"");
  EXPECT_EQ(error_of(replace(kMinimal, R"("name": "mini",)", R"("name": "mini", "colour": 1,)")),
            "bad.json: $.colour: unknown key (expected one of: $schema, name, description, "
            "encoding, features, states, "
            "arcs, blocked, combination, postcopy)");
}

TEST(ProtocolSpec, ExactlyOneDefaultState) {
  const auto text = replace(kMinimal, R"({"name": "STOP", "value": 1})",
                            R"({"name": "STOP", "value": 1, "attributes": ["default"]})");
  EXPECT_EQ(error_of(text),
            "bad.json: states: exactly one state must have the attribute \"default\" (found 2)");
}

TEST(ProtocolSpec, BitEncodingMustFitItsWidth) {
  auto text = replace(kMinimal, R"({"kind": "enum"})", R"({"kind": "bits", "width": 2})");
  text = replace(text, R"("name": "STOP_COPY", "value": 3)",
                 R"("name": "STOP_COPY", "value": "100b")");
  EXPECT_EQ(error_of(text), "bad.json: state \"STOP_COPY\": value 4 does not fit in 2 bits");
}

TEST(ProtocolSpec, NotJsonIsAClearError) {
  EXPECT_EQ(error_of("{").rfind("bad.json: not valid JSON", 0), 0u);
  EXPECT_NE(error_of("").find("bad.json: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace mdevsim::vfio
