// When verification fails, the summary and the result JSON name the check
// that failed (at the switch, after the continuation) and its first
// difference, never "0 pages, 0 fields differ".
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;
using mdevsim::testing::scenario_path;
using nlohmann::json;

std::string line_starting(const std::string& text, const std::string& prefix) {
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? end : end - at);
    if (line.rfind(prefix, 0) == 0) return line;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return "";
}

// DMA writes that the VMM never learns of: guest RAM at the destination
// lacks them at the switch.
TEST(VerificationSummary, SwitchFailureNamesTheFirstGuestRamPage) {
  const auto r = run_cli("run " + scenario_path("dma-tracking-off.json") + " --json -");
  ASSERT_EQ(r.code, 1) << r.err;
  const json v = json::parse(r.out)["verification"];
  EXPECT_FALSE(v["passed"].get<bool>());
  EXPECT_EQ(v["failed_check"], "switch");
  const auto& f = v["first_difference"];
  EXPECT_EQ(f["kind"], "ram_page");
  EXPECT_TRUE(f["field"].is_null());
  ASSERT_TRUE(f["page"].is_number());
  const uint64_t page = f["page"].get<uint64_t>();
  const uint64_t n = v["differences_in_check"].get<uint64_t>();
  EXPECT_EQ(n, v["ram_pages_mismatched"].get<uint64_t>());
  ASSERT_GT(n, 1u);
  // The lowest differing page is listed first among the differences.
  EXPECT_EQ(v["differences"][0], "guest RAM page " + std::to_string(page));
  const std::string expected = "verify     FAILED at the switch: guest RAM page " +
                               std::to_string(page) + " (and " + std::to_string(n - 1) + " more)";
  EXPECT_EQ(line_starting(r.err, "verify "), expected) << r.err;
  EXPECT_EQ(line_starting(r.err, "outcome "),
            "outcome    failed: verification failed " + expected.substr(18))
      << r.err;
  EXPECT_EQ(r.err.find(" 0 device fields"), std::string::npos) << r.err;
}

// A continuation failure (the destination diverging after a passing switch
// check) is tested in-process with an inspector double:
// tests/sim/verify/test_oracle.cpp.

TEST(VerificationSummary, PassingRunHasNoFailedCheck) {
  const auto r = run_cli("run " + scenario_path("quickstart.json") +
                         " --set migration.start_at=200ms --json -");
  ASSERT_EQ(r.code, 0) << r.err;
  const json v = json::parse(r.out)["verification"];
  EXPECT_TRUE(v["passed"].get<bool>());
  EXPECT_TRUE(v["failed_check"].is_null());
  EXPECT_TRUE(v["first_difference"].is_null());
  EXPECT_EQ(v["differences_in_check"], 0);
  EXPECT_EQ(line_starting(r.err, "verify "),
            "verify     passed: destination equals source, and continues identically");
}

}  // namespace
