// The one drawing of a protocol (sim/src/protocol_drawing.cpp) against the
// kernel's table of v2's single arcs, for renamed protocols and for every
// shipped protocol file.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sim/protocol_drawing.h"
#include "mdevsim/sim/report.h"
#include "protocol_fixtures.h"

namespace mdevsim::sim {
namespace {

using namespace protocol_fixtures;

std::map<std::string, std::string> arcs_of(const ProtocolDrawing& d) {
  std::map<std::string, std::string> out;
  for (const auto& a : d.arcs) out[a.from_name + " -> " + a.to_name] = a.label;
  return out;
}

std::string dot_of(const ProtocolDrawing& d) {
  std::ostringstream o;
  write_dot(d, o);
  return o.str();
}

const uint64_t kFeatureSets[] = {kStopCopy, kStopCopy | kP2P, kStopCopy | kPreCopy,
                                 kStopCopy | kP2P | kPreCopy};

TEST(ProtocolDrawing, V2HasExactlyTheKernelsArcsForEveryFeatureSet) {
  for (uint64_t flags : kFeatureSets) {
    const auto d = draw_protocol(vfio::builtin_protocol_v2(), flags, ProtocolStyle::kKernel);
    EXPECT_EQ(arcs_of(d), kernel_arcs_for(flags)) << "features " << d.features;
    // Every state an arc touches is drawn, and ERROR never is (it cannot be requested).
    std::set<std::string> names;
    for (const auto& s : d.states) names.insert(s.name);
    for (const auto& a : d.arcs) EXPECT_TRUE(names.count(a.from_name) && names.count(a.to_name));
    EXPECT_FALSE(names.count("ERROR"));
    EXPECT_EQ(d.error_state, "ERROR");
  }
  // The reference's counts: 6 without P2P, 8 with it, PRE_COPY with P2P adds 7.
  EXPECT_EQ(
      draw_protocol(vfio::builtin_protocol_v2(), kStopCopy, ProtocolStyle::kKernel).arcs.size(),
      6u);
  EXPECT_EQ(draw_protocol(vfio::builtin_protocol_v2(), kStopCopy | kP2P, ProtocolStyle::kKernel)
                .arcs.size(),
            8u);
  EXPECT_EQ(draw_protocol(vfio::builtin_protocol_v2(), 7, ProtocolStyle::kKernel).arcs.size(), 15u);
}

TEST(ProtocolDrawing, TheFileStyleLabelsArcsWithTheFilesSessionWords) {
  const auto d = draw_protocol(vfio::builtin_protocol_v2(), 7, ProtocolStyle::kFile);
  const auto arcs = arcs_of(d);
  EXPECT_EQ(arcs.at("STOP -> STOP_COPY"), "open_save");
  EXPECT_EQ(arcs.at("PRE_COPY_P2P -> STOP_COPY"), "keep");
  EXPECT_EQ(arcs.at("RESUMING -> STOP"), "end_resume");
  EXPECT_EQ(arcs.at("RUNNING -> RUNNING_P2P"), "") << "no session: no label";
}

TEST(ProtocolDrawing, V2GoesAroundTheCircleInMigrationOrder) {
  std::vector<std::string> order;
  const auto d = draw_protocol(vfio::builtin_protocol_v2(), 7, ProtocolStyle::kKernel);
  for (const auto* s : d.in_migration_order()) order.push_back(s->name);
  // Running, pre-copy, stop-and-copy, the stopped hub, resuming, then RUNNING_P2P.
  EXPECT_EQ(order, (std::vector<std::string>{"RUNNING", "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY",
                                             "STOP", "RESUMING", "RUNNING_P2P"}));
}

TEST(ProtocolDrawing, KernelDotHasTheDefaultStateTheSessionStatesAndEveryArc) {
  const std::string dot =
      dot_of(draw_protocol(vfio::builtin_protocol_v2(), 7, ProtocolStyle::kKernel));
  EXPECT_EQ(
      dot.rfind("digraph vfio_v2 {\n  label=\"VFIO migration v2 (stop_copy,p2p,pre_copy)\";", 0),
      0u)
      << dot;
  EXPECT_NE(dot.find("  RUNNING [peripheries=2];\n"), std::string::npos);
  // The saving group and RESUMING hold a data fd: filled; the others are not listed.
  for (const char* s : {"STOP_COPY", "RESUMING", "PRE_COPY", "PRE_COPY_P2P"})
    EXPECT_NE(dot.find(std::string("  ") + s + " [style=\"rounded,filled\""), std::string::npos)
        << s;
  for (const char* s : {"STOP", "RUNNING_P2P"})
    EXPECT_EQ(dot.find(std::string("  ") + s + " ["), std::string::npos) << s;
  size_t edges = 0;
  for (const auto& [arc, label] : kernel_arcs_for(7)) {
    const std::string line =
        "  " + arc + (label.empty() ? "" : " [label=\"" + label + "\"]") + ";\n";
    EXPECT_NE(dot.find(line), std::string::npos) << line;
  }
  for (size_t p = dot.find(" -> "); p != std::string::npos; p = dot.find(" -> ", p + 1)) ++edges;
  EXPECT_EQ(edges, 15u);
}

TEST(ProtocolDrawing, ARenamedV2DrawsItsOwnNamesAndV2sShape) {
  const auto renamed = vfio::parse_protocol(renamed_v2_text(), "v2-renamed.json");
  for (uint64_t flags : kFeatureSets) {
    const auto v2 = draw_protocol(vfio::builtin_protocol_v2(), flags, ProtocolStyle::kKernel);
    const auto r = draw_protocol(renamed, flags, ProtocolStyle::kKernel);
    std::map<std::string, std::string> expected;
    for (const auto& [arc, label] : kernel_arcs_for(flags)) {
      const auto at = arc.find(" -> ");
      expected[renames().at(arc.substr(0, at)) + " -> " + renames().at(arc.substr(at + 4))] = label;
    }
    EXPECT_EQ(arcs_of(r), expected);
    ASSERT_EQ(r.in_migration_order().size(), v2.in_migration_order().size());
    for (size_t i = 0; i < v2.states.size(); ++i)
      EXPECT_EQ(r.in_migration_order()[i]->name, renames().at(v2.in_migration_order()[i]->name));
    EXPECT_EQ(r.error_state, "BROKEN");
  }
  for (auto style : {ProtocolStyle::kKernel, ProtocolStyle::kFile}) {
    const std::string dot = dot_of(draw_protocol(renamed, 7, style));
    for (const auto& [old_name, new_name] : renames()) {
      if (new_name != "BROKEN") {
        EXPECT_NE(dot.find(new_name), std::string::npos) << new_name;
      }
      // No v2 name survives, not even as a node (names are whole tokens here).
      EXPECT_EQ(dot.find(" " + old_name + " "), std::string::npos) << old_name;
      EXPECT_EQ(dot.find("\"" + old_name + "\""), std::string::npos) << old_name;
    }
  }
  // The report draws it as it draws v2, with the new names.
  const auto v2_ctx = ReportContext::from_v2(7);
  const auto r_ctx = ReportContext::from_drawing(draw_protocol(renamed, 7, ProtocolStyle::kKernel));
  EXPECT_EQ(r_ctx.protocol, "v2-renamed");
  EXPECT_EQ(r_ctx.features, v2_ctx.features);
  ASSERT_EQ(r_ctx.states.size(), v2_ctx.states.size());
  for (size_t i = 0; i < v2_ctx.states.size(); ++i)
    EXPECT_EQ(r_ctx.states[i].name, renames().at(v2_ctx.states[i].name));
  ASSERT_EQ(r_ctx.arcs.size(), v2_ctx.arcs.size());
  for (size_t i = 0; i < v2_ctx.arcs.size(); ++i) {
    EXPECT_EQ(r_ctx.arcs[i].from, renames().at(v2_ctx.arcs[i].from));
    EXPECT_EQ(r_ctx.arcs[i].to, renames().at(v2_ctx.arcs[i].to));
    EXPECT_EQ(r_ctx.arcs[i].label, v2_ctx.arcs[i].label);
  }
}

// Every shipped protocol, the post-copy proposals included: each arc the
// file lists for the feature set is drawn once, between drawn states, with
// its session's word; the report's context has the same arcs.
TEST(ProtocolDrawing, EveryShippedProtocolFileDrawsItsArcs) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MDEVSIM_SOURCE_DIR) +
                                                               "/scenarios/protocols")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    const auto p = vfio::load_protocol_file(entry.path().string());
    const uint64_t flags = p.all_flags();
    const auto d = draw_protocol(p, flags, ProtocolStyle::kFile);
    const auto listed = p.arcs_for(flags);
    ASSERT_EQ(d.arcs.size(), listed.size()) << p.name;
    std::set<size_t> drawn;
    for (const auto& s : d.states) {
      drawn.insert(s.index);
      EXPECT_FALSE(p.states[s.index].attrs & vfio::kAttrError) << p.name << " " << s.name;
    }
    for (size_t i = 0; i < listed.size(); ++i) {
      EXPECT_EQ(d.arcs[i].from_name, p.states[listed[i]->from].name);
      EXPECT_EQ(d.arcs[i].to_name, p.states[listed[i]->to].name);
      EXPECT_TRUE(drawn.count(listed[i]->from) && drawn.count(listed[i]->to));
      EXPECT_EQ(d.arcs[i].label, listed[i]->session == vfio::ArcSession::kNone
                                     ? ""
                                     : vfio::arc_session_name(listed[i]->session));
    }
    EXPECT_EQ(d.in_migration_order().size(), d.states.size());
    EXPECT_EQ(d.in_migration_order().front()->index, p.default_state) << p.name;
    const std::string dot = dot_of(d);
    EXPECT_EQ(dot.rfind("digraph \"" + p.name + "\" {", 0), 0u) << dot;
    EXPECT_EQ(ReportContext::from_drawing(d).arcs.size(), listed.size());
  }
  EXPECT_GE(files, 6u) << "v1, v2 and the four proposals";
}

TEST(ProtocolDrawing, APostCopyServingStateSitsWithStopAndCopyAndIsFilledOrange) {
  const auto p = vfio::resolve_protocol("v2-postcopy");
  const auto d = draw_protocol(p, p.all_flags(), ProtocolStyle::kFile);
  std::vector<std::string> order;
  for (const auto* s : d.in_migration_order()) order.push_back(s->name);
  const auto at = [&](const std::string& s) {
    return std::find(order.begin(), order.end(), s) - order.begin();
  };
  EXPECT_EQ(at("POSTCOPY_SERVE"), at("STOP_COPY") + 1) << "after stop-and-copy, before STOP";
  EXPECT_LT(at("POSTCOPY_SERVE"), at("STOP"));
  EXPECT_GT(at("RESUMING_RUNNING"), at("RESUMING")) << "a running state last";
  EXPECT_NE(dot_of(d).find("\"POSTCOPY_SERVE\" [style=\"rounded,filled\", fillcolor=\"#ffe8cc\"]"),
            std::string::npos);
}

TEST(ProtocolDrawing, KernelWordsCoverEverySession) {
  using S = vfio::ArcSession;
  std::set<std::string> words;
  for (S s : {S::kNone, S::kOpenSave, S::kOpenResume, S::kKeep, S::kEndSave, S::kEndResume,
              S::kServe, S::kCommitKeep, S::kRestart}) {
    const std::string w = session_words(s, ProtocolStyle::kKernel);
    EXPECT_NE(w, "?");
    words.insert(w);
    EXPECT_EQ(std::string(session_words(s, ProtocolStyle::kFile)), vfio::arc_session_name(s));
  }
  EXPECT_EQ(words.size(), 9u) << "each session its own words";
}

}  // namespace
}  // namespace mdevsim::sim
