// Scenario keys for multifd (multifd branch): migration.multifd_channels
// (0: off, QEMU's default; 1..255; pre-copy only) and link.stream_cap
// (default unlimited); each bad value names the file, its JSON path and
// what is wrong (the CLI exits 2).
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sim/scenario.h"
#include "scenario_text.h"

namespace mdevsim::sim {
namespace {

Scenario load(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return testing::load_text("multifd.json", text, overrides);
}
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return testing::load_text_error("multifd.json", text, overrides);
}

TEST(ScenarioMultifd, OffAndUnlimitedWhenAbsent) {
  const Scenario s = load(R"({"migration": {}})");
  EXPECT_EQ(s.migration.multifd_channels, 0u);
  EXPECT_TRUE(std::isinf(s.link.stream_cap));
}

TEST(ScenarioMultifd, BothKeysAreRead) {
  const Scenario s = load(R"({"link": {"stream_cap": "10Gbit/s"},
                              "migration": {"multifd_channels": 8}})");
  EXPECT_EQ(s.migration.multifd_channels, 8u);
  EXPECT_DOUBLE_EQ(s.link.stream_cap, 10e9 / 8);
  const Scenario t = load(
      "{}", {"migration.multifd_channels=255", "link.stream_cap=unlimited", "migration.loop=qemu"});
  EXPECT_EQ(t.migration.multifd_channels, 255u);
  EXPECT_TRUE(std::isinf(t.link.stream_cap));
  EXPECT_EQ(t.migration.loop, MigrationLoop::kQemu);
}

TEST(ScenarioMultifd, ChannelCountsOutsideQemusRangeAreRefused) {
  EXPECT_EQ(error_of(R"({"migration": {"multifd_channels": 256}})"),
            "multifd.json: /migration/multifd_channels: must be between 0 and 255, got 256");
  EXPECT_EQ(error_of(R"({"migration": {"multifd_channels": -1}})"),
            "multifd.json: /migration/multifd_channels: must be a whole number >= 0, got -1");
  EXPECT_EQ(error_of(R"({"migration": {"multifd_channels": 2.5}})"),
            "multifd.json: /migration/multifd_channels: must be a whole number >= 0, got 2.5");
  EXPECT_EQ(error_of(R"({"migration": {"multifd_channels": "4"}})"),
            "multifd.json: /migration/multifd_channels: must be a whole number >= 0, got \"4\"");
}

TEST(ScenarioMultifd, MultifdWithPostcopyIsRefused) {
  const std::string e = error_of(R"({"device": {"protocol": "v2-postcopy",
      "features": ["stop_copy", "p2p", "pre_copy", "post_copy"]},
      "migration": {"mode": "hybrid", "multifd_channels": 2}})");
  EXPECT_EQ(e.rfind("multifd.json: /migration/multifd_channels: multifd is pre-copy only", 0), 0u)
      << e;
}

TEST(ScenarioMultifd, BadStreamCapsAreRefused) {
  EXPECT_EQ(error_of(R"({"link": {"stream_cap": 0}})"),
            "multifd.json: /link/stream_cap: must be > 0 (or \"unlimited\")");
  std::string e = error_of(R"({"link": {"stream_cap": "fast"}})");
  EXPECT_EQ(e.rfind("multifd.json: /link/stream_cap: ", 0), 0u) << e;
  e = error_of(R"({"link": {"stream_cap": 1000}})");
  EXPECT_EQ(e.rfind("multifd.json: /link/stream_cap: must be a string with a unit", 0), 0u) << e;
  EXPECT_EQ(error_of("{}", {"link.stream_cap=0"}),
            "multifd.json (--set link.stream_cap=0): /link/stream_cap: must be > 0 (or "
            "\"unlimited\")");
}

}  // namespace
}  // namespace mdevsim::sim
