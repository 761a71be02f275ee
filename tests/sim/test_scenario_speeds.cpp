// Scenario keys for the device's and the source's own speeds (issue 13):
// device.save_bandwidth / save_fixed_cost, vm.scan_bandwidth,
// link.efficiency, and migration.timeout's default; each bad value names
// the file, its JSON path and what is wrong (the CLI exits 2).
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/sim/scenario.h"
#include "scenario_text.h"

namespace mdevsim::sim {
namespace {

Scenario load(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return testing::load_text("speeds.json", text, overrides);
}
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return testing::load_text_error("speeds.json", text, overrides);
}

TEST(ScenarioSpeeds, DefaultsWhenAbsent) {
  const Scenario s = load(R"({"migration": {}})");
  EXPECT_TRUE(std::isinf(s.device.save_bandwidth));  // the read-out never sets the pace
  EXPECT_EQ(s.device.save_fixed_cost_s, 0);
  EXPECT_DOUBLE_EQ(s.vm.scan_bandwidth, 9e9);
  EXPECT_DOUBLE_EQ(s.link.efficiency, 1448.0 / 1538.0);
  EXPECT_EQ(s.migration.timeout_s, 0);  // QEMU has no pre-copy timeout
}

TEST(ScenarioSpeeds, EveryKeyIsRead) {
  const Scenario s = load(R"({
    "device": {"save_bandwidth": "766MB/s", "save_fixed_cost": "839ms"},
    "vm": {"scan_bandwidth": "4GiB/s"},
    "link": {"efficiency": 0.94},
    "migration": {"timeout": "60s"}})");
  EXPECT_DOUBLE_EQ(s.device.save_bandwidth, 766e6);
  EXPECT_DOUBLE_EQ(s.device.save_fixed_cost_s, 0.839);
  EXPECT_DOUBLE_EQ(s.vm.scan_bandwidth, 4.0 * (1ull << 30));
  EXPECT_DOUBLE_EQ(s.link.efficiency, 0.94);
  EXPECT_EQ(s.migration.timeout_s, 60);  // the option stays
}

TEST(ScenarioSpeeds, UnlimitedRates) {
  const Scenario s = load(R"({"device": {"save_bandwidth": "unlimited"}})",
                          {"vm.scan_bandwidth=unlimited", "link.efficiency=1"});
  EXPECT_TRUE(std::isinf(s.device.save_bandwidth));
  EXPECT_TRUE(std::isinf(s.vm.scan_bandwidth));
  EXPECT_EQ(s.link.efficiency, 1.0);
}

TEST(ScenarioSpeeds, ZeroSaveBandwidthIsRefused) {
  EXPECT_EQ(error_of(R"({"device": {"save_bandwidth": 0}})"),
            "speeds.json: /device/save_bandwidth: must be > 0 (or \"unlimited\")");
}

TEST(ScenarioSpeeds, SaveBandwidthNeedsAUnit) {
  const std::string e = error_of(R"({"device": {"save_bandwidth": 766}})");
  EXPECT_EQ(e.rfind("speeds.json: /device/save_bandwidth: must be a string with a unit", 0), 0u)
      << e;
}

TEST(ScenarioSpeeds, NegativeFixedCostIsRefused) {
  const std::string e = error_of(R"({"device": {"save_fixed_cost": "-1s"}})");
  EXPECT_EQ(e.rfind("speeds.json: /device/save_fixed_cost: ", 0), 0u) << e;
}

TEST(ScenarioSpeeds, FixedCostOverAnHourIsRefused) {
  EXPECT_EQ(error_of(R"({"device": {"save_fixed_cost": "2h"}})"),
            "speeds.json: /device/save_fixed_cost: must be between 0 and 1h");
}

TEST(ScenarioSpeeds, ScanBandwidthWithoutAUnitIsRefused) {
  const std::string e = error_of(R"({"vm": {"scan_bandwidth": "fast"}})");
  EXPECT_EQ(e.rfind("speeds.json: /vm/scan_bandwidth: ", 0), 0u) << e;
}

TEST(ScenarioSpeeds, EfficiencyAboveOneIsRefused) {
  EXPECT_EQ(error_of(R"({"link": {"efficiency": 1.5}})"),
            "speeds.json: /link/efficiency: must be between 0 and 1, got 1.5");
}

TEST(ScenarioSpeeds, ZeroEfficiencyIsRefused) {
  EXPECT_EQ(error_of(R"({"link": {"efficiency": 0}})"),
            "speeds.json: /link/efficiency: must be > 0 (1.0: an ideal link)");
}

TEST(ScenarioSpeeds, EfficiencyAsAStringIsRefused) {
  EXPECT_EQ(error_of(R"({"link": {"efficiency": "94%"}})"),
            "speeds.json: /link/efficiency: must be a number, got \"94%\"");
}

TEST(ScenarioSpeeds, ABadOverrideIsNamed) {
  EXPECT_EQ(error_of("{}", {"link.efficiency=2"}),
            "speeds.json (--set link.efficiency=2): /link/efficiency: must be between 0 and 1, "
            "got 2");
}

}  // namespace
}  // namespace mdevsim::sim
