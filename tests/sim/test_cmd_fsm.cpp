// mdevsim fsm as a user types it: option errors exit 2 and say what is
// wrong; v2 and any protocol file print the kernel's arcs and tables, a
// renamed protocol in its own names.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"
#include "protocol_fixtures.h"

namespace {

using mdevsim::testing::run_cli;
using namespace mdevsim::protocol_fixtures;
using nlohmann::json;

std::string renamed_v2_file() {
  const std::string path = ::testing::TempDir() + "/v2-renamed.json";
  std::ofstream(path) << renamed_v2_text();
  return path;
}

TEST(CmdFsm, V2JsonListsExactlyTheKernelsArcsInItsWords) {
  const std::pair<const char*, uint64_t> sets[] = {{"stop_copy", kStopCopy},
                                                   {"stop_copy,p2p", kStopCopy | kP2P},
                                                   {"stop_copy,pre_copy", kStopCopy | kPreCopy},
                                                   {"stop_copy,p2p,pre_copy", 7}};
  for (const auto& [features, flags] : sets) {
    const auto r = run_cli(std::string("fsm v2 --json --features ") + features);
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = json::parse(r.out);
    EXPECT_EQ(j["features"], features);
    std::map<std::string, std::string> arcs;
    for (const auto& a : j["arcs"])
      arcs[a["from"].get<std::string>() + " -> " + a["to"].get<std::string>()] =
          a["data_session"] == "none" ? "" : a["data_session"].get<std::string>();
    EXPECT_EQ(arcs, kernel_arcs_for(flags)) << features;
  }
}

TEST(CmdFsm, V2ListingNamesEveryStateAndTheErrorState) {
  const auto r = run_cli("fsm v2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("VFIO migration protocol v2, features stop_copy,p2p,pre_copy\n", 0), 0u);
  EXPECT_NE(r.out.find("states: STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P "
                       "(and ERROR, which only a failure enters"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  STOP -> STOP_COPY   (opens a save data fd)\n"), std::string::npos);
  EXPECT_NE(r.out.find("  RUNNING -> RUNNING_P2P\n"), std::string::npos) << "no session, no words";
}

// A copy of v2.json with every state renamed and renumbered: the same
// next-step table and paths as v2, in its own names.
TEST(CmdFsm, ARenamedV2HasV2sTableAndPathsInItsOwnNames) {
  const std::string file = renamed_v2_file();
  const auto mine = run_cli("fsm " + file + " --table --json");
  const auto v2 = run_cli("fsm v2 --table --json");
  ASSERT_EQ(mine.code, 0) << mine.err;
  const auto jm = json::parse(mine.out), jv = json::parse(v2.out);
  ASSERT_EQ(jm.size(), jv.size());
  for (const auto& [from, row] : jv.items())
    for (const auto& [to, cell] : row.items()) {
      const std::string expected =
          cell == "EINVAL" ? "EINVAL" : renames().at(cell.get<std::string>());
      EXPECT_EQ(jm[renames().at(from)][renames().at(to)], expected) << from << " -> " << to;
    }
  const auto path = run_cli("fsm " + file + " --path LIVE DRAINING");
  EXPECT_EQ(path.out.rfind("LIVE -> LIVE_QUIET -> HALTED -> DRAINING\n", 0), 0u) << path.out;
  EXPECT_NE(path.out.find("  HALTED -> DRAINING: open_save\n"), std::string::npos) << path.out;
  const auto blocked = run_cli("fsm " + file + " --path DRAINING STREAMING");
  EXPECT_EQ(blocked.out, "EINVAL: DRAINING -> STREAMING is a blocked arc\n");
  const auto dot = run_cli("fsm " + file + " --dot");
  EXPECT_NE(dot.out.find("\"HALTED\" -> \"DRAINING\" [label=\"open_save\"];"), std::string::npos)
      << dot.out;
  EXPECT_EQ(dot.out.find("STOP_COPY"), std::string::npos) << "no v2 name in its drawing";
}

// Table columns fit the longest state name (the renamed copy has a 32-letter
// one), so every row lines up with the header.
TEST(CmdFsm, TableColumnsFitTheLongestStateName) {
  const auto r = run_cli("fsm " + renamed_v2_file() + " --table");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 8u) << r.out;  // the header and the 7 states
  const size_t width = std::string("STREAMING_QUIET_WITH_A_LONG_NAME").size() + 1;
  for (const auto& l : lines)
    for (size_t col = 0; col < 8; ++col) {
      const size_t at = col * (width + 1);
      ASSERT_LT(at, l.size()) << l;
      EXPECT_NE(l[at], ' ') << "column " << col << " of: " << l;
      if (at > 0) {
        EXPECT_EQ(l[at - 1], ' ') << "column " << col << " of: " << l;
      }
    }
}

TEST(CmdFsm, PathWithOneStateSaysItTakesFromAndTo) {
  const auto r = run_cli("fsm v2 --path RUNNING");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--path takes two states, FROM and TO"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("got only 'RUNNING'"), std::string::npos) << r.err;
  EXPECT_EQ(run_cli("fsm v2 --path RUNNING --table").code, 2) << "an option is not a state";
  const auto ok = run_cli("fsm v2 --path RUNNING STOP_COPY");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out.rfind("RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY\n", 0), 0u) << ok.out;
}

TEST(CmdFsm, AnUnknownFeatureIsNamed) {
  const auto r = run_cli("fsm v2 --features stop_copy,foo --table");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'foo' is not a feature (the features of v2: stop_copy,p2p,pre_copy)"),
            std::string::npos)
      << r.err;
  const auto file = run_cli("fsm v2-postcopy --features stop_copy,post_copy,bar");
  EXPECT_EQ(file.code, 2);
  EXPECT_NE(file.err.find("'bar' is not a feature"), std::string::npos) << file.err;
  const auto mandatory = run_cli("fsm v2 --features p2p");
  EXPECT_EQ(mandatory.code, 2);
  EXPECT_NE(mandatory.err.find("stop_copy is mandatory"), std::string::npos) << mandatory.err;
}

TEST(CmdFsm, AMissingProtocolFileIsSaidToBeMissing) {
  const auto r = run_cli("fsm no/such/protocol.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no/such/protocol.json: the protocol file does not exist"),
            std::string::npos)
      << r.err;
  const auto dir = run_cli(std::string("fsm ") + MDEVSIM_SOURCE_DIR + "/scenarios/protocols/");
  EXPECT_EQ(dir.code, 2);
  EXPECT_NE(dir.err.find("is a directory, not a protocol file"), std::string::npos) << dir.err;
}

}  // namespace
