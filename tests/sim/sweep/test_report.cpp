// The sweep report and table (sim/sweep/src/report.cpp) on hand-made records:
// what the charts draw for points that never switched over, the downtime
// limit, the table's wrapper, the switchover column.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sweep/report.h"

namespace {

using mdevsim::sweep::Axis;
using ojson = nlohmann::ordered_json;

ojson record(size_t point, const std::string& mode, const std::string& outcome, double downtime,
             const char* switchover = nullptr) {
  ojson result = {{"schema", "mdevsim.result/1"},
                  {"outcome", outcome},
                  {"converged", outcome == "completed"},
                  {"total_time_s", 1.0 + point},
                  {"downtime_s", downtime},
                  {"bytes", {{"ram", 100}, {"device", 200}, {"total", 300}}},
                  {"iterations", ojson::array()}};
  if (switchover) result["switchover"] = switchover;
  return {{"point", point},
          {"params", {{"migration.on_no_convergence", mode}}},
          {"exit_code", outcome == "completed" ? 0 : 1},
          {"result", result},
          {"error", nullptr}};
}

const std::vector<Axis> kAxes = {{"migration.on_no_convergence", {"force", "cancel", "force2"}}};

// The <svg> of the first chart (downtime).
std::string downtime_chart(const std::string& html) {
  const auto start = html.find("<svg");
  return html.substr(start, html.find("</svg>", start) - start);
}

TEST(SweepReport, ACancelledPointIsNoDowntimeAndBreaksTheLine) {
  const std::vector<ojson> lines = {record(0, "force", "completed", 0.2),
                                    record(1, "cancel", "cancelled", 0.0),
                                    record(2, "force2", "completed", 0.1)};
  const std::string svg = downtime_chart(mdevsim::sweep::html("s", "s.json", kAxes, lines, {}));
  // Three x positions: 64, 187, 310. The line must not reach the middle one.
  const auto path = svg.find("<path d=\" M");
  ASSERT_NE(path, std::string::npos) << svg;
  const std::string d = svg.substr(path, svg.find('"', path + 9) - path);
  EXPECT_EQ(d.find("187.0"), std::string::npos) << "no downtime 0 joined by the line: " << d;
  EXPECT_NE(d.find(" M310.0"), std::string::npos) << "the line starts again after it: " << d;
  EXPECT_NE(svg.find("no downtime (cancelled)"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("→ 0 s (cancelled)"), std::string::npos) << svg;
  // The other charts still show the cancelled point's time and bytes.
  const std::string html = mdevsim::sweep::html("s", "s.json", kAxes, lines, {});
  EXPECT_NE(html.find("point 1: migration.on_no_convergence=cancel → 2.000 s (cancelled)"),
            std::string::npos);
}

TEST(SweepReport, TheDowntimeLimitIsDrawnDashedAtItsValue) {
  const std::vector<ojson> lines = {record(0, "force", "completed", 0.2),
                                    record(1, "cancel", "completed", 0.25),
                                    record(2, "force2", "completed", 0.1)};
  // y axis: max(0.25 s, limit 0.3 s) → 0.3 s at the top (y = 24), 0 at y = 174.
  const std::string same =
      downtime_chart(mdevsim::sweep::html("s", "s.json", kAxes, lines, {0.3, 0.3, 0.3}));
  EXPECT_NE(same.find("<path d=\" M64.0 24.0 L187.0 24.0 L310.0 24.0\" fill=\"none\" "
                      "stroke=\"#888\""),
            std::string::npos)
      << same;
  EXPECT_NE(same.find("stroke-dasharray"), std::string::npos);
  EXPECT_NE(same.find("dashed: downtime limit"), std::string::npos);
  // Limits that differ per point follow the points: 0.3 s, 0.15 s (y = 99), 0.3 s.
  const std::string varied =
      downtime_chart(mdevsim::sweep::html("s", "s.json", kAxes, lines, {0.3, 0.15, 0.3}));
  EXPECT_NE(varied.find("M64.0 24.0 L187.0 99.0 L310.0 24.0"), std::string::npos) << varied;
  const std::string none = downtime_chart(mdevsim::sweep::html("s", "s.json", kAxes, lines, {}));
  EXPECT_EQ(none.find("stroke-dasharray"), std::string::npos) << "no limits given, none drawn";
}

TEST(SweepReport, TheTableScrollsInsideItsBoxInsteadOfWideningThePage) {
  const std::string html =
      mdevsim::sweep::html("s", "s.json", kAxes, {record(0, "force", "completed", 0.2)}, {});
  EXPECT_NE(html.find(".table-wrap { max-width: 100%; overflow-x: auto; }"), std::string::npos);
  const auto wrap = html.find("<div class=\"table-wrap\">\n<table>");
  ASSERT_NE(wrap, std::string::npos);
  EXPECT_LT(wrap, html.find("<th>point</th>"));
  EXPECT_EQ(html.find("min-width: 28em"), std::string::npos) << "the reason column may wrap";
}

TEST(SweepReport, TheSwitchoverColumnCopiesTheResultsFieldOrStaysEmpty) {
  const std::vector<ojson> lines = {record(0, "force", "completed", 0.2, "forced"),
                                    record(1, "cancel", "cancelled", 0.0, "none"),
                                    record(2, "force2", "completed", 0.1)};
  const std::string csv = mdevsim::sweep::csv(kAxes, lines);
  EXPECT_EQ(csv,
            "point,migration.on_no_convergence,outcome,converged,switchover,iterations,downtime_s,"
            "total_time_s,ram_bytes,device_bytes,total_bytes,verification_passed,postcopy_faults,"
            "postcopy_stall_p99_s,postcopy_risk_window_s,reason\n"
            "0,force,completed,true,forced,0,0.2,1.0,100,200,300,,,,,\n"
            "1,cancel,cancelled,false,none,0,0.0,2.0,100,200,300,,,,,\n"
            "2,force2,completed,true,,0,0.1,3.0,100,200,300,,,,,\n");
  EXPECT_NE(
      mdevsim::sweep::html("s", "s.json", kAxes, lines, {}).find("<td class=\"t\">forced</td>"),
      std::string::npos);
}

}  // namespace
