// mdevsim fsm as a user types it: option errors exit 2 and say what is wrong.
#include <string>

#include <gtest/gtest.h>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;

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
