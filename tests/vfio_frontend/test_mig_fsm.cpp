// The v2 next-step rule against the kernel's resolved paths, transcribed
// from the reference fact sheet (section 3.8), not from our implementation.
#include <cerrno>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "mdevsim/vfio/mig_fsm.h"

namespace mdevsim::vfio {
namespace {

constexpr uint64_t SC = 1, P2P = 2, PRE = 4;

std::string path_string(const MigPath& p) {
  if (p.err) return "EINVAL";
  std::string s;
  for (auto st : p.states) s += std::string(s.empty() ? "" : ",") + state_name(st);
  return s;
}

// Abbreviations as in the reference table.
std::string expand(const std::string& abbrev) {
  static const std::map<std::string, std::string> names = {
      {"STOP", "STOP"},         {"RUN", "RUNNING"}, {"SC", "STOP_COPY"},       {"RES", "RESUMING"},
      {"R_P2P", "RUNNING_P2P"}, {"PC", "PRE_COPY"}, {"PC_P2P", "PRE_COPY_P2P"}};
  std::stringstream ss(abbrev);
  std::string item, out;
  while (std::getline(ss, item, ',')) out += (out.empty() ? "" : ",") + names.at(item);
  return out;
}

struct Expect {
  const char* from;
  const char* to;
  const char* path;
};

void check(uint64_t flags, const std::vector<Expect>& cases) {
  for (const auto& c : cases) {
    const auto from = parse_state(expand(c.from)).value();
    const auto to = parse_state(expand(c.to)).value();
    const std::string want = std::string(c.path) == "EINVAL" ? "EINVAL" : expand(c.path);
    EXPECT_EQ(path_string(find_path(from, to, flags)), want)
        << features_name(flags) << ": " << c.from << " -> " << c.to;
  }
}

TEST(MigFsm, StopCopyOnlyPathsMatchTheKernel) {
  check(SC, {{"STOP", "RUN", "STOP,RUN"},
             {"STOP", "SC", "STOP,SC"},
             {"STOP", "RES", "STOP,RES"},
             {"RUN", "STOP", "RUN,STOP"},
             {"RUN", "SC", "RUN,STOP,SC"},
             {"RUN", "RES", "RUN,STOP,RES"},
             {"SC", "STOP", "SC,STOP"},
             {"SC", "RUN", "SC,STOP,RUN"},
             {"SC", "RES", "SC,STOP,RES"},
             {"RES", "STOP", "RES,STOP"},
             {"RES", "RUN", "RES,STOP,RUN"},
             {"RES", "SC", "RES,STOP,SC"},
             {"RUN", "R_P2P", "EINVAL"},
             {"RUN", "PC", "EINVAL"}});
}

TEST(MigFsm, P2PPathsMatchTheKernel) {
  check(SC | P2P, {{"STOP", "RUN", "STOP,R_P2P,RUN"},
                   {"STOP", "R_P2P", "STOP,R_P2P"},
                   {"RUN", "STOP", "RUN,R_P2P,STOP"},
                   {"RUN", "SC", "RUN,R_P2P,STOP,SC"},
                   {"RUN", "RES", "RUN,R_P2P,STOP,RES"},
                   {"RUN", "R_P2P", "RUN,R_P2P"},
                   {"SC", "RUN", "SC,STOP,R_P2P,RUN"},
                   {"SC", "R_P2P", "SC,STOP,R_P2P"},
                   {"RES", "RUN", "RES,STOP,R_P2P,RUN"},
                   {"RES", "R_P2P", "RES,STOP,R_P2P"},
                   {"R_P2P", "STOP", "R_P2P,STOP"},
                   {"R_P2P", "RUN", "R_P2P,RUN"},
                   {"R_P2P", "SC", "R_P2P,STOP,SC"},
                   {"R_P2P", "RES", "R_P2P,STOP,RES"},
                   {"STOP", "SC", "STOP,SC"},
                   {"SC", "RES", "SC,STOP,RES"},
                   {"RES", "SC", "RES,STOP,SC"}});
}

TEST(MigFsm, PreCopyWithoutP2PPathsMatchTheKernel) {
  check(SC | PRE, {{"STOP", "PC", "STOP,RUN,PC"},
                   {"RUN", "PC", "RUN,PC"},
                   {"SC", "PC", "EINVAL"},
                   {"RES", "PC", "RES,STOP,RUN,PC"},
                   {"PC", "STOP", "PC,RUN,STOP"},
                   {"PC", "RUN", "PC,RUN"},
                   {"PC", "SC", "PC,SC"},
                   {"PC", "RES", "PC,RUN,STOP,RES"},
                   {"RUN", "SC", "RUN,STOP,SC"},
                   {"PC", "PC_P2P", "EINVAL"}});
}

// The full 7x7 table for STOP_COPY|P2P|PRE_COPY (what mtty advertises).
TEST(MigFsm, AllFeaturesTableMatchesTheKernel) {
  const char* states[] = {"STOP", "RUN", "SC", "RES", "R_P2P", "PC", "PC_P2P"};
  const char* table[7][7] = {
      {"-", "STOP,R_P2P,RUN", "STOP,SC", "STOP,RES", "STOP,R_P2P", "STOP,R_P2P,RUN,PC",
       "STOP,R_P2P,PC_P2P"},
      {"RUN,R_P2P,STOP", "-", "RUN,R_P2P,STOP,SC", "RUN,R_P2P,STOP,RES", "RUN,R_P2P", "RUN,PC",
       "RUN,R_P2P,PC_P2P"},
      {"SC,STOP", "SC,STOP,R_P2P,RUN", "-", "SC,STOP,RES", "SC,STOP,R_P2P", "EINVAL", "EINVAL"},
      {"RES,STOP", "RES,STOP,R_P2P,RUN", "RES,STOP,SC", "-", "RES,STOP,R_P2P",
       "RES,STOP,R_P2P,RUN,PC", "RES,STOP,R_P2P,PC_P2P"},
      {"R_P2P,STOP", "R_P2P,RUN", "R_P2P,STOP,SC", "R_P2P,STOP,RES", "-", "R_P2P,RUN,PC",
       "R_P2P,PC_P2P"},
      {"PC,RUN,R_P2P,STOP", "PC,RUN", "PC,PC_P2P,SC", "PC,RUN,R_P2P,STOP,RES", "PC,RUN,R_P2P", "-",
       "PC,PC_P2P"},
      {"PC_P2P,R_P2P,STOP", "PC_P2P,R_P2P,RUN", "PC_P2P,SC", "PC_P2P,R_P2P,STOP,RES",
       "PC_P2P,R_P2P", "PC_P2P,PC", "-"},
  };
  std::vector<Expect> cases;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j)
      if (i != j) cases.push_back({states[i], states[j], table[i][j]});
  check(SC | P2P | PRE, cases);
}

TEST(MigFsm, OnlyTheLastArcOfAnyPathOpensADataSession) {
  for (uint64_t flags : {SC, SC | P2P, SC | PRE, SC | P2P | PRE}) {
    for (uint32_t a = 1; a < kMigStateCount; ++a)
      for (uint32_t b = 1; b < kMigStateCount; ++b) {
        const auto p = find_path(static_cast<MigState>(a), static_cast<MigState>(b), flags);
        if (p.err) continue;
        // Interior arcs never open a session: a data fd comes only from the last arc.
        for (size_t i = 0; i + 2 < p.states.size(); ++i) {
          const auto arc = find_arc(p.states[i], p.states[i + 1], flags);
          ASSERT_TRUE(arc.has_value());
          EXPECT_NE(arc->effect, SessionEffect::kOpensSave)
              << state_name(p.states.front()) << "->" << state_name(p.states.back());
          EXPECT_NE(arc->effect, SessionEffect::kOpensResume);
        }
        for (size_t i = 0; i + 1 < p.states.size(); ++i)
          EXPECT_TRUE(find_arc(p.states[i], p.states[i + 1], flags).has_value())
              << "path uses an arc the device does not implement";
      }
  }
}

TEST(MigFsm, ArcCountsPerFeatureSet) {
  EXPECT_EQ(arcs_for(SC).size(), 6u);
  EXPECT_EQ(arcs_for(SC | P2P).size(), 8u);
  EXPECT_EQ(arcs_for(SC | PRE).size(), 9u);         // base 6 + RUN->PC, PC->RUN, PC->SC
  EXPECT_EQ(arcs_for(SC | P2P | PRE).size(), 15u);  // base+P2P 8 + 7
}

TEST(MigFsm, BlockedArcTerminatesWithEinvalInsteadOfLooping) {
  MigState next;
  EXPECT_EQ(next_state(MigState::kStopCopy, MigState::kPreCopy, SC | P2P | PRE, next), -EINVAL);
  EXPECT_EQ(next_state(MigState::kStopCopy, MigState::kPreCopyP2P, SC | P2P | PRE, next), -EINVAL);
  EXPECT_EQ(next_state(MigState::kRunning, MigState::kError, SC, next), -EINVAL);
  EXPECT_EQ(next_state(MigState::kRunning, static_cast<MigState>(8), SC, next), -EINVAL);
}

TEST(MigFsm, V1EncodingRules) {
  EXPECT_TRUE(v1::valid(0b100));
  EXPECT_FALSE(v1::valid(0b101));
  EXPECT_FALSE(v1::valid(0b110));
  EXPECT_FALSE(v1::valid(0b111));
  EXPECT_TRUE(v1::is_error(0b110));
  EXPECT_EQ(v1::set_error(0xFFFFFFF9u), 0xFFFFFFFEu);  // keeps bits 3-31
  EXPECT_EQ(v1::bits(3), "011b");
  EXPECT_EQ(v1::parse("011b"), 3u);
  EXPECT_EQ(v1::parse("RUNNING|SAVING"), 3u);
  EXPECT_EQ(v1::parse("0x4"), 4u);
  // Permissive rule: any valid target while not in 110b.
  for (uint32_t cur : {0u, 1u, 2u, 3u, 4u})
    for (uint32_t t : {0u, 1u, 2u, 3u, 4u})
      EXPECT_EQ(v1::check_transition(cur, t, false), 0) << cur << "->" << t;
  for (uint32_t t : {5u, 6u, 7u}) EXPECT_EQ(v1::check_transition(1, t, false), -EINVAL);
  EXPECT_EQ(v1::check_transition(6, 1, false), -EINVAL);
  // Strict (libvfio-user): 000 -> 010 and 000 -> 100 are refused, 001 -> 011 allowed.
  EXPECT_EQ(v1::check_transition(0, 2, true), -EINVAL);
  EXPECT_EQ(v1::check_transition(0, 4, true), -EINVAL);
  EXPECT_EQ(v1::check_transition(1, 3, true), 0);
  EXPECT_EQ(v1::check_transition(3, 1, true), -EINVAL);
}

}  // namespace
}  // namespace mdevsim::vfio
