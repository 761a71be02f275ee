#include <cmath>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/sim/report.h"
#include "report_fixtures.h"

namespace mdevsim::sim {
namespace {

using namespace report_fixtures;

std::string html_of(const SyntheticRun& r) {
  std::ostringstream o;
  write_html_report(r.result, r.log, r.ctx, o);
  return o.str();
}

bool has(const std::string& h, const std::string& s) { return h.find(s) != std::string::npos; }

size_t count(const std::string& h, const std::string& s) {
  size_t n = 0;
  for (size_t p = h.find(s); p != std::string::npos; p = h.find(s, p + 1)) ++n;
  return n;
}

// "NaN", "inf", "-inf", "infinity" as a token (not inside a word such as
// "info"): what printf makes of a non-finite double.
void expect_no_nonfinite(const std::string& h) {
  static const std::regex bad(R"((^|[^A-Za-z])(nan|inf|infinity)([^A-Za-z]|$))", std::regex::icase);
  std::smatch m;
  if (std::regex_search(h, m, bad))
    ADD_FAILURE() << "non-finite number in the report near: "
                  << h.substr(size_t(std::max<long>(0, m.position() - 80)), 160);
}

// Tags nest and close: void HTML elements and "/>" need no end tag, script
// and style contents are skipped. Catches an unclosed <g>, <svg> or <table>.
void expect_well_formed(const std::string& h) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link"};
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = h.find('<', i)) != std::string::npos) {
    if (h.compare(i, 2, "<!") == 0) {
      i = h.find('>', i);
      ASSERT_NE(i, std::string::npos);
      continue;
    }
    const size_t end = h.find('>', i);
    ASSERT_NE(end, std::string::npos) << "unterminated tag at " << i;
    const bool closing = h[i + 1] == '/';
    size_t ns = i + (closing ? 2 : 1), ne = ns;
    while (ne < end && (std::isalnum(static_cast<unsigned char>(h[ne])) || h[ne] == '-')) ++ne;
    const std::string name = h.substr(ns, ne - ns);
    ASSERT_FALSE(name.empty()) << "stray '<' at " << i << ": " << h.substr(i, 40);
    if (closing) {
      ASSERT_FALSE(stack.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(stack.back(), name) << "</" << name << "> closes <" << stack.back() << ">";
      stack.pop_back();
      i = end + 1;
      continue;
    }
    const bool self = h[end - 1] == '/';
    if (name == "script" || name == "style") {
      i = h.find("</" + name + ">", end);
      ASSERT_NE(i, std::string::npos) << "<" << name << "> never closed";
      i += name.size() + 3;
      continue;
    }
    if (!self && std::find(kVoid.begin(), kVoid.end(), name) == kVoid.end()) stack.push_back(name);
    i = end + 1;
  }
  EXPECT_TRUE(stack.empty()) << "unclosed <" << (stack.empty() ? "" : stack.back()) << ">";
  EXPECT_EQ(count(h, "<svg"), count(h, "</svg>"));
}

TEST(Report, PreCopyRunHasEverySectionAndTheResultsNumbers) {
  const std::string h = html_of(precopy_v2());
  for (const char* id : {"id=\"summary\"", "id=\"chart-iterations\"", "id=\"chart-remaining\"",
                         "id=\"chart-dirty\"", "id=\"diagram-states\""})
    EXPECT_TRUE(has(h, id)) << id;
  EXPECT_FALSE(has(h, "id=\"chart-faults\"")) << "no post-copy in this run";
  EXPECT_TRUE(has(h, "<!DOCTYPE html>"));
  EXPECT_TRUE(has(h, "<div class=\"outcome completed\">completed</div>"));
  EXPECT_TRUE(has(h, "45.3 ms"));                        // downtime
  EXPECT_TRUE(has(h, "limit 300.0 ms"));                 // the bar's limit mark
  EXPECT_TRUE(has(h, "4.200 s"));                        // total time
  EXPECT_TRUE(has(h, "RAM 2.72 GiB, device 1.34 GiB"));  // 2788 MiB, 1372 MiB
  EXPECT_TRUE(has(h, "<th>pre-copy iterations</th><td>3</td>"));
  EXPECT_TRUE(has(h, "<th>converged</th><td>yes</td>"));
  EXPECT_TRUE(has(h, "passed; continuation matches"));
  EXPECT_TRUE(has(h, "10 Gbit/s"));
  // Three iteration bars and a stop-and-copy bar, each RAM + device.
  EXPECT_EQ(count(h, "<rect class=\"ram\" x="), 3u + 1u);  // + legend swatch
  EXPECT_EQ(count(h, "<rect class=\"dev\" x="), 3u + 1u);
  EXPECT_TRUE(has(h, "<rect class=\"ram-stop\""));
  EXPECT_TRUE(has(h, "bytes sent (GiB)"));  // labelled axis, unit chosen from the data
  EXPECT_TRUE(has(h, "simulated time (s)"));
  // Switchover marked on both time charts.
  EXPECT_EQ(count(h, ">switchover 3.900 s</text>"), 2u);
  EXPECT_EQ(count(h, "<rect class=\"downtime\""), 2u);
  // The diagram: every v2 state, the 15 arcs of a P2P device, each host's path.
  for (const char* s : {"PRE_COPY_P2P", "RUNNING_P2P", "STOP_COPY", "RESUMING"})
    EXPECT_TRUE(has(h, std::string(">") + s + "</text>")) << s;
  EXPECT_EQ(count(h, "<path class=\"arc\""), 15u);
  EXPECT_EQ(count(h, "<path class=\"taken src\""), 4u);  // RUNNING→PRE_COPY→..→STOP
  EXPECT_EQ(count(h, "<path class=\"taken dst\""), 6u);
  EXPECT_FALSE(has(h, "class=\"arc extra\"")) << "every step is a single v2 arc";
  EXPECT_TRUE(has(h, "src step 4: STOP_COPY \u2192 STOP at 3.950 s"));
  EXPECT_TRUE(has(h, "<g class=\"node both\""));  // RUNNING: both hosts
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, PostCopyRunShowsFaultTimelineAndStallPercentiles) {
  const SyntheticRun r = postcopy();
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "id=\"chart-faults\""));
  EXPECT_TRUE(has(h, "id=\"chart-stall-hist\""));
  EXPECT_EQ(count(h, "<circle class=\"fault "), 200u + 2u);  // + legend
  EXPECT_TRUE(has(h, "<th>faults in the run log</th><td>200</td>"));
  EXPECT_TRUE(has(h, "<th>faults</th><td>200 page faults</td>"));
  EXPECT_TRUE(has(h, "<th>pages pushed</th><td>4096</td>")) << "an unknown key, in words";
  EXPECT_TRUE(has(h, "<th>stall p50</th>"));
  EXPECT_TRUE(has(h, "<th>stall p99</th>"));
  EXPECT_TRUE(has(h, "stall (ms)"));
  EXPECT_EQ(count(h, "<rect class=\"hist\""), 20u);
  // p99 of 200 stalls is the 198th smallest: one of the four 4 ms outliers.
  std::vector<double> s;
  for (const auto& f : r.log.faults) s.push_back(f.stall_s);
  std::sort(s.begin(), s.end());
  char p99[64];
  std::snprintf(p99, sizeof p99, "%.1f ms", s[197] * 1e3);
  EXPECT_TRUE(has(h, std::string("<th>stall p99</th><td>") + p99 + "</td>")) << p99;
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, PostCopyObjectWithoutFaultsStillGetsTheSection) {
  SyntheticRun r = empty_run();
  r.result.postcopy = nlohmann::json{{"faults", 0}};
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "id=\"chart-faults\""));
  EXPECT_TRUE(has(h, "no data: no page fault in the run log"));
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, EmptyRunSaysNoDataInsteadOfDrawingBrokenCharts) {
  const std::string h = html_of(empty_run());
  for (const char* id : {"id=\"summary\"", "id=\"chart-iterations\"", "id=\"chart-remaining\"",
                         "id=\"chart-dirty\"", "id=\"diagram-states\""})
    EXPECT_TRUE(has(h, id)) << id;
  EXPECT_EQ(count(h, "no data:"), 4u);
  EXPECT_TRUE(has(h, "<div class=\"outcome cancelled\">cancelled</div>"));
  EXPECT_TRUE(has(h, "link down at setup"));
  EXPECT_TRUE(has(h, "no limit given"));
  EXPECT_FALSE(has(h, "id=\"chart-faults\""));
  EXPECT_FALSE(has(h, "<path class=\"line"));
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, DeviceOnlyRunDrawsDistinctPagesOverTime) {
  SyntheticRun r = empty_run();
  r.result.outcome = "completed";
  r.result.reason.clear();
  r.result.total_time_s = 2;
  r.result.device_run = DeviceRunStats{5000, 1200, 3e8, {{0.5, 400}, {1.0, 800}, {2.0, 1200}}};
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "id=\"chart-unique-pages\""));
  EXPECT_TRUE(has(h, "5000 page writes, 1200 distinct pages"));
  EXPECT_TRUE(has(h, "no data: no pre-copy iteration and no stop-and-copy"));
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, TextIsEscapedEverywhere) {
  SyntheticRun r = precopy_v2();
  r.result.scenario = "<script>alert(1)</script>";
  r.result.reason = "peer said \"no\" & left";
  r.result.outcome = "failed<b>";
  r.log.states.push_back({4.0, "src", "<img src=x>"});
  r.result.postcopy = nlohmann::json{{"<k>", "<v>"}};
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_FALSE(has(h, "<script>alert"));
  EXPECT_TRUE(has(h, "peer said &quot;no&quot; &amp; left"));
  EXPECT_TRUE(has(h, "<div class=\"outcome other\">failed&lt;b&gt;</div>"));
  EXPECT_TRUE(has(h, "&lt;img src=x&gt;"));
  EXPECT_FALSE(has(h, "<img"));
  EXPECT_TRUE(has(h, "<th>&lt;k&gt;</th><td>&lt;v&gt;</td>"));
  EXPECT_EQ(count(h, "<script>"), 1u);  // the tooltip script only
  expect_well_formed(h);
}

TEST(Report, NonFiniteAndDegenerateNumbersNeverReachTheSvg) {
  SyntheticRun r = precopy_v2();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  r.result.downtime_s = nan;
  r.result.total_time_s = inf;
  r.result.iterations[1].bandwidth = nan;
  r.result.iterations[2].expected_downtime_s = inf;
  for (auto& it : r.result.iterations) it.ram_bytes = it.device_bytes = 0;
  r.result.stop_copy.reset();
  r.ctx.downtime_limit_s = nan;
  r.ctx.link_bandwidth = inf;
  r.log.counters = {{"remaining bytes", 1.0, 5.0},
                    {"dirty pages", 2.0, nan},
                    {"dirty pages", inf, 3.0},
                    {"dirty pages", 2.5, 0.0}};
  r.log.switchover_s = inf;
  r.log.faults = {{nan, 0.001, "ram", 1}, {1.0, inf, "vram", 2}, {0, 0, "ram", 3}};
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "id=\"chart-faults\""));
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, LongRunsAreDecimatedButKeepTheirPeaks) {
  SyntheticRun r = precopy_v2();
  r.log.counters.clear();
  for (int i = 0; i < 200000; ++i)
    r.log.counters.push_back({"dirty pages", i * 2e-5, i == 123457 ? 1e7 : double(i % 1000)});
  const std::string h = html_of(r);
  EXPECT_LT(h.size(), 400000u);
  EXPECT_TRUE(has(h, ">10M</text>")) << "the single peak sets the axis";
  EXPECT_FALSE(has(h, "<circle class=\"pt c2\"")) << "no per-sample dots for long series";
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(Report, StepsOutsideTheProtocolsArcsAreDrawnDashedAndUnknownStatesAdded) {
  SyntheticRun r = precopy_v2();
  r.ctx = ReportContext{};  // a protocol file the caller did not describe
  r.ctx.protocol = "my-proto.json";
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "Protocol my-proto.json."));
  EXPECT_TRUE(has(h, "class=\"arc extra\""));
  EXPECT_TRUE(has(h, ">PRE_COPY_P2P</text>"));
  expect_well_formed(h);
}

TEST(Report, V1RunDrawsTheBitEncodingsAndItsPath) {
  SyntheticRun r = precopy_v2();
  r.ctx = ReportContext::from_v1();
  using V = RunLog::StateVisit;
  r.log.states = {V{0, "src", "001b"},    V{0.1, "src", "011b"}, V{3.9, "src", "010b"},
                  V{3.95, "src", "000b"}, V{0, "dst", "001b"},   V{0.05, "dst", "100b"},
                  V{3.945, "dst", "001b"}};
  const std::string h = html_of(r);
  EXPECT_TRUE(has(h, "Protocol v1."));
  EXPECT_EQ(count(h, "<path class=\"arc\""), 10u);
  EXPECT_EQ(count(h, "<path class=\"taken src\""), 3u);
  EXPECT_EQ(count(h, "<path class=\"taken dst\""), 2u);
  EXPECT_FALSE(has(h, "class=\"arc extra\""));
  EXPECT_TRUE(has(h, "110b: error state (_SAVING|_RESUMING)"));  // node tooltip
  expect_no_nonfinite(h);
  expect_well_formed(h);
}

TEST(ReportContext, FromV2FollowsTheFeatureFlags) {
  const auto all = ReportContext::from_v2(7);
  EXPECT_EQ(all.protocol, "v2");
  EXPECT_EQ(all.features, (std::vector<std::string>{"stop_copy", "p2p", "pre_copy"}));
  EXPECT_EQ(all.states.size(), 7u);
  EXPECT_EQ(all.arcs.size(), 15u);  // the 18 minus RUNNING<->STOP, PRE_COPY->STOP_COPY (P2P)
  const auto sc = ReportContext::from_v2(1);
  EXPECT_EQ(sc.states.size(), 4u);
  EXPECT_EQ(sc.arcs.size(), 6u);
  bool labelled = false;
  for (const auto& a : sc.arcs)
    if (a.from == "STOP" && a.to == "STOP_COPY") labelled = a.label == "opens a save data fd";
  EXPECT_TRUE(labelled);
}

TEST(ReportContext, FromV1HasTheEncodingsAndTheStrictTablesWrites) {
  const auto c = ReportContext::from_v1();
  EXPECT_EQ(c.protocol, "v1");
  ASSERT_EQ(c.states.size(), 6u);
  EXPECT_EQ(c.states[0].name, "001b");
  EXPECT_EQ(c.states[0].note, "running (_RUNNING), the default");
  EXPECT_EQ(c.arcs.size(), 10u);
  bool precopy_to_stopcopy = false;
  for (const auto& a : c.arcs) precopy_to_stopcopy |= a.from == "011b" && a.to == "010b";
  EXPECT_TRUE(precopy_to_stopcopy);
}

// The driver's post-copy metrics (docs/results.md) as a person reads them:
// labels and units, never the JSON keys or bare floats.
TEST(Report, PostCopyMetricsHaveLabelsAndUnits) {
  SyntheticRun r = postcopy();
  r.result.postcopy = nlohmann::json{{"protocol", "v2-postcopy"},
                                     {"device_pages_postcopied", true},
                                     {"fault_delivery", "eventfd"},
                                     {"faults", 4614},
                                     {"device_faults", 4611},
                                     {"ram_faults", 3},
                                     {"missing_vram_pages_at_switch", 23223},
                                     {"missing_ram_pages_at_switch", 3831},
                                     {"vram_pages_fetched", 23223},
                                     {"ram_pages_fetched", 3831},
                                     {"pages_sent_twice", 0},
                                     {"bytes", 1.5 * (1 << 30)},
                                     {"duration_s", 2.244},
                                     {"risk_window_s", 2.2451},
                                     {"stall_total_s", 2.22},
                                     {"stall_p50_s", 0.0004821},
                                     {"stall_p99_s", 0.0005021},
                                     {"stall_max_s", 0.0005728},
                                     {"device_work_pages", 228515},
                                     {"reference_device_work_pages", 294257},
                                     {"vcpu_writes", 28710},
                                     {"reference_vcpu_writes", 28735},
                                     {"device_slowdown", 0.2234},
                                     {"device_slowdown_peak", 0.989},
                                     {"vcpu_slowdown", 0.00087}};
  const std::string h = html_of(r);
  const auto table = h.substr(h.find("id=\"postcopy-metrics\""));
  const auto metrics = table.substr(0, table.find("</table>"));
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"faults", "4614 page faults (device 4611, RAM 3)"},
           {"pages missing at the switch", "VRAM 23223, RAM 3831"},
           {"pages fetched during post-copy", "VRAM 23223, RAM 3831"},
           {"device pages post-copied", "yes"},
           {"bytes moved during post-copy", "1.50 GiB"},
           {"post-copy duration (destination start to last page)", "2.244 s"},
           {"stall per touch", "p50 482.1 us, p99 502.1 us, max 572.8 us, total 2.220 s"},
           {"device work since the switch", "228515 page operations (never-migrated run 294257)"},
           {"device slowdown over post-copy", "22.3 %"},
           {"device slowdown, peak", "98.9 %"},
           {"vCPU slowdown over post-copy", "0.1 %"},
       })
    EXPECT_TRUE(has(metrics, "<th>" + label + "</th><td>" + value + "</td>")) << label;
  // No JSON key and no float printed raw.
  for (const auto& [k, v] : r.result.postcopy->items()) {
    if (k == "protocol" || k == "faults" || k == "bytes") continue;  // also plain words
    EXPECT_FALSE(has(metrics, k)) << k;
  }
  EXPECT_FALSE(has(metrics, "postcopy."));
  EXPECT_FALSE(has(metrics, "0.2234"));
  EXPECT_FALSE(has(metrics, "2.2451"));
  expect_well_formed(h);
}

TEST(Report, DowntimeOverTheLimitIsSaid) {
  SyntheticRun r = precopy_v2();
  r.result.downtime_s = 0.7207;  // limit 0.3 s
  std::string h = html_of(r);
  EXPECT_TRUE(has(h,
                  "id=\"downtime-exceeded\">downtime exceeded the limit: 720.7 ms against "
                  "300.0 ms (+420.7 ms)</p>"));
  EXPECT_TRUE(has(h, "<th>downtime</th><td>720.7 ms (limit 300.0 ms, exceeded)</td>"));
  r.result.downtime_s = 0.0453;
  h = html_of(r);
  EXPECT_FALSE(has(h, "downtime-exceeded"));
  EXPECT_TRUE(has(h, "<th>downtime</th><td>45.3 ms (limit 300.0 ms)</td>"));
  r.ctx.downtime_limit_s = 0;  // no limit known: nothing to exceed
  r.result.downtime_s = 5;
  EXPECT_FALSE(has(html_of(r), "downtime-exceeded"));
}

// Sets Result::switchover when the struct has it (the field arrives with
// the switchover work of issue 10): true when set.
template <typename R>
bool set_switchover(R& r, const std::string& v) {
  if constexpr (requires { r.switchover = v; }) {
    r.switchover = v;
    return true;
  } else {
    return false;
  }
}

TEST(Report, SwitchoverReasonIsShownAndAbsentMeansUnknown) {
  SyntheticRun r = precopy_v2();
  if (!to_json(r.result).contains("switchover"))
    EXPECT_TRUE(has(html_of(r), "<th>switchover</th><td>unknown (not in the result)</td>"));
  if (!set_switchover(r.result, "converged"))
    GTEST_SKIP() << "Result has no switchover field in this build: only 'unknown' is checked";
  for (const auto& [v, text] : std::vector<std::pair<std::string, std::string>>{
           {"converged", "converged: the downtime rule fired"},
           {"forced", "forced: an iteration or time limit ended pre-copy (force)"},
           {"postcopy", "post-copy: the destination ran before every page arrived"},
           {"none", "none: the source never stopped for a switchover"},
       }) {
    set_switchover(r.result, v);
    EXPECT_TRUE(has(html_of(r), "<th>switchover</th><td>" + text + "</td>")) << v;
  }
}

}  // namespace
}  // namespace mdevsim::sim
