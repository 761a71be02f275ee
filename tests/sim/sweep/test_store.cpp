// The result store's record rules (sim/sweep/src/store.cpp) and the plan's
// arithmetic (sim/sweep/src/plan.cpp).
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "mdevsim/sweep/store.h"

namespace {

namespace fs = std::filesystem;
using namespace mdevsim::sweep;

Plan two_axes() {
  Plan p;
  p.scenario_path = "s.json";
  p.overrides = {"seed=3"};
  p.axes = {{"a", {"1", "2", "3"}}, {"b", {"x", "y"}}};
  return p;
}

TEST(SweepPlan, TheFirstAxisVariesSlowestAndIndexInvertsCoordinates) {
  const Plan p = two_axes();
  EXPECT_EQ(p.points(), 6u);
  EXPECT_EQ(coordinates(p.axes, 3), (std::vector<size_t>{1, 1}));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(index_of(p.axes, coordinates(p.axes, i)), i);
  EXPECT_EQ(p.point_overrides(5), (std::vector<std::string>{"seed=3", "a=3", "b=y"}));
  EXPECT_EQ(p.point_params(2).dump(), R"({"a":"2","b":"x"})");
  EXPECT_EQ(parse_vary(R"(f=["x","y"],[1,2],"a,b")").values,
            (std::vector<std::string>{R"(["x","y"])", "[1,2]", R"("a,b")"}));
}

TEST(SweepStore, ARecordKeepsAResultOrSaysWhyThereIsNone) {
  const Plan p = two_axes();
  const ojson ok = make_record(p, 1, 0, 0, R"({"outcome":"completed"})", "noise");
  EXPECT_EQ(
      ok.dump(),
      R"({"point":1,"params":{"a":"1","b":"y"},"exit_code":0,"result":{"outcome":"completed"},"error":null})");
  const ojson crashed = make_record(p, 1, 0, 11, R"({"outcome":"completed"})", "boom\n");
  EXPECT_EQ(crashed["exit_code"], 139);
  EXPECT_TRUE(crashed["result"].is_null()) << "a killed run's file is not trusted";
  EXPECT_EQ(crashed["error"], "boom\nkilled by signal 11 (Segmentation fault)");
  const ojson bad = make_record(p, 0, 2, 0, "", "mdevsim run: bad\n");
  EXPECT_EQ(bad["error"], "mdevsim run: bad\n");
}

TEST(SweepStore, PointFilesCountOnlyOnceTheirExitFileIsThereAndNotWhenStopped) {
  const Plan p = two_axes();
  const fs::path dir = fs::path(::testing::TempDir()) / ("store." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const PointFiles f = point_files(dir, 4);
  std::ofstream(f.json) << R"({"outcome":"failed"})";
  EXPECT_FALSE(read_point_files(p, dir, 4)) << "no .exit yet: still running";
  for (const char* stopped : {"130\n", "143\n", "137\n"}) {
    std::ofstream(f.exit) << stopped;
    EXPECT_FALSE(read_point_files(p, dir, 4)) << "stopped by a signal: runs again " << stopped;
  }
  std::ofstream(f.exit) << "1\n";
  const auto r = read_point_files(p, dir, 4);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["exit_code"], 1);
  EXPECT_EQ((*r)["result"]["outcome"], "failed");
  fs::remove_all(dir);
}

}  // namespace
