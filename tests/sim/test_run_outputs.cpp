// The outputs of a real run (--trace, --timeline, --vcd, --report), through
// the built mdevsim binary as a user runs it, and RunRecorder in-process.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim/sim/migration.h"
#include "mdevsim/sim/run_outputs.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim_cli.h"
#include "scratch_dir.h"

namespace {

namespace fs = std::filesystem;

using Outcome = mdevsim::testing::CliRun;

using mdevsim::testing::slurp;

// A private directory per test process (ctest runs tests in parallel).
class Workdir : public mdevsim::testing::ScratchDir {
 public:
  Workdir() : ScratchDir("outputs", "MDEVSIM_KEEP_OUTPUTS") {}
};

Outcome mdevsim(const std::string& args, const Workdir&) { return mdevsim::testing::run_cli(args); }

std::string scenario(const std::string& name) {
  return std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/" + name;
}

// One run with every output, and its result JSON from --json -.
struct RunFiles {
  Outcome outcome;
  nlohmann::json result;
  std::string trace, timeline, vcd, report;
};

RunFiles run_all(const std::string& name, const Workdir& w) {
  RunFiles r;
  r.outcome =
      mdevsim("run " + scenario(name) + " --json - --trace " + (w / "t.trace") + " --timeline " +
                  (w / "t.json") + " --vcd " + (w / "t.vcd") + " --report " + (w / "t.html"),
              w);
  if (!r.outcome.out.empty()) r.result = nlohmann::json::parse(r.outcome.out);
  r.trace = slurp(w / "t.trace");
  r.timeline = slurp(w / "t.json");
  r.vcd = slurp(w / "t.vcd");
  r.report = slurp(w / "t.html");
  return r;
}

// ------------------------------------------------------------------ timeline

// Perfetto stacks the slices of one thread: any two must be disjoint or one
// inside the other, never partially overlapping.
void expect_slices_nest(const nlohmann::json& events) {
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> by_thread;
  for (const auto& e : events)
    if (e["ph"] == "X") {
      const double ts = e["ts"].get<double>();
      by_thread[{e["pid"].get<int>(), e["tid"].get<int>()}].push_back(
          {ts, ts + e["dur"].get<double>()});
    }
  for (auto& [thread, slices] : by_thread) {
    std::sort(slices.begin(), slices.end());
    for (size_t i = 0; i < slices.size(); ++i)
      for (size_t j = i + 1; j < slices.size() && slices[j].first < slices[i].second; ++j)
        ASSERT_LE(slices[j].second, slices[i].second)
            << "pid " << thread.first << " tid " << thread.second << ": [" << slices[i].first
            << ", " << slices[i].second << ") and [" << slices[j].first << ", " << slices[j].second
            << ") partially overlap";
  }
}

void check_timeline(const std::string& name) {
  Workdir w;
  const RunFiles r = run_all(name, w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const auto tl = nlohmann::json::parse(r.timeline);
  const auto& events = tl["traceEvents"];
  ASSERT_TRUE(events.is_array());

  std::map<int, std::string> process;
  std::set<std::pair<std::string, std::string>> threads;  // (process, thread)
  for (const auto& e : events)
    if (e["ph"] == "M" && e["name"] == "process_name")
      process[e["pid"].get<int>()] = e["args"]["name"];
  for (const auto& e : events)
    if (e["ph"] == "M" && e["name"] == "thread_name")
      threads.insert({process[e["pid"].get<int>()], e["args"]["name"]});
  for (const char* p : {"src host", "dst host", "link", "vm"})
    EXPECT_TRUE(std::any_of(process.begin(), process.end(), [&](auto& kv) {
      return kv.second == p;
    })) << p;
  for (const auto& [p, t] :
       std::vector<std::pair<std::string, std::string>>{{"src host", "migration"},
                                                        {"src host", "device state"},
                                                        {"src host", "abi"},
                                                        {"dst host", "migration"},
                                                        {"dst host", "device state"},
                                                        {"dst host", "abi"},
                                                        {"dst host", "faults"},
                                                        {"link", "transfers"},
                                                        {"vm", "vm"}})
    EXPECT_TRUE(threads.count({p, t})) << p << " / " << t;

  // Spans by (process, name).
  std::multimap<std::pair<std::string, std::string>, nlohmann::json> spans;
  for (const auto& e : events)
    if (e["ph"] == "X") spans.insert({{process[e["pid"].get<int>()], e["name"]}, e});

  // The downtime: exactly the result's.
  ASSERT_EQ(spans.count({"vm", "downtime"}), 1u);
  const auto& down = spans.find({"vm", "downtime"})->second;
  const double downtime_s = r.result["downtime_s"].get<double>();
  EXPECT_NEAR(down["dur"].get<double>(), downtime_s * 1e6, 1.0);
  EXPECT_NEAR(tl["otherData"]["downtime_s"].get<double>(), downtime_s, 1e-9);

  // The phases of a pre-copy migration, one span per iteration.
  EXPECT_EQ(spans.count({"src host", "setup"}), 1u);
  const size_t iterations = r.result["iterations"].size();
  ASSERT_GE(iterations, 1u);
  for (size_t i = 0; i < iterations; ++i)
    EXPECT_EQ(spans.count({"src host", "iteration " + std::to_string(i)}), 1u) << i;
  EXPECT_EQ(spans.count({"src host", "stop-and-copy"}), 1u);
  EXPECT_EQ(spans.count({"dst host", "resume"}), 1u);
  // stop-and-copy then resume fill the downtime exactly.
  const auto& sc = spans.find({"src host", "stop-and-copy"})->second;
  const auto& resume = spans.find({"dst host", "resume"})->second;
  EXPECT_NEAR(sc["ts"].get<double>(), down["ts"].get<double>(), 1e-3);
  EXPECT_NEAR(resume["ts"].get<double>() + resume["dur"].get<double>(),
              down["ts"].get<double>() + down["dur"].get<double>(), 1e-2);

  // Link transfers: one span per send, not one per 10 ms slice. Every
  // iteration and the stop-and-copy send RAM and device data at most once
  // each (the first pass's zero pages join the first RAM span).
  const size_t ram = spans.count({"link", "RAM pages"});
  const size_t dev = spans.count({"link", "device data"});
  EXPECT_GE(ram, 1u);
  EXPECT_GE(dev, 1u);
  EXPECT_LE(ram, iterations + 1);
  EXPECT_LE(dev, iterations + 1);
  bool long_span = false;
  for (const auto& [key, e] : spans)
    if (key.first == "link" && e["dur"].get<double>() > 10000.0 + 1) long_span = true;
  EXPECT_TRUE(long_span) << "coalesced link spans last longer than one 10 ms slice";

  // Device state spans on both hosts (v2 names or v1 bits).
  std::map<std::string, std::set<std::string>> states;
  for (const auto& e : events)
    if (e["ph"] == "X" && e["cat"] == "device")
      states[process[e["pid"].get<int>()]].insert(e["name"]);
  EXPECT_GE(states["src host"].size(), 3u);
  EXPECT_GE(states["dst host"].size(), 2u);
  EXPECT_TRUE(states["dst host"].count("RESUMING") || states["dst host"].count("100b"));

  // Counters: one dirty-pages and remaining-bytes sample per iteration; the
  // link's bytes in flight end at 0.
  std::map<std::string, std::vector<double>> counters;
  for (const auto& e : events)
    if (e["ph"] == "C") counters[e["name"]].push_back(e["args"]["value"].get<double>());
  EXPECT_EQ(counters["dirty pages"].size(), iterations);
  EXPECT_EQ(counters["remaining bytes"].size(), iterations);
  ASSERT_FALSE(counters["link bytes in flight"].empty());
  EXPECT_EQ(counters["link bytes in flight"].back(), 0.0);
  for (double v : counters["remaining bytes"]) EXPECT_GT(v, 0.0);

  // ABI calls on the abi threads, as many as the trace has lines, but for
  // the "nothing now" polls (read = -1 ENOMSG), which only a counter shows.
  size_t abi = 0;
  for (const auto& e : events)
    if (e["ph"] == "i" && e["cat"].get<std::string>().rfind("abi", 0) == 0) ++abi;
  size_t lines = 0, polls = 0;
  std::istringstream trace(r.trace);
  for (std::string l; std::getline(trace, l); ++lines)
    if (l.find(" read(data:") != std::string::npos && l.find("= -1 ENOMSG") != std::string::npos)
      ++polls;
  EXPECT_EQ(abi, lines - polls);
  expect_slices_nest(events);
}

TEST(RunOutputs, TimelineOfV2PreCopyRun) { check_timeline("quickstart.json"); }
TEST(RunOutputs, TimelineOfV1Run) { check_timeline("protocol-v1.json"); }

// Post-copy: thousands of faults, many of them concurrent, and the source
// answering "nothing now" between page requests.
TEST(RunOutputs, PostcopyTimelineNestsFaultsAndFoldsNothingNowPolls) {
  Workdir w;
  const auto o = mdevsim("run " + scenario("postcopy-write-heavy.json") + " --trace " +
                             (w / "t.trace") + " --timeline " + (w / "t.json"),
                         w);
  ASSERT_EQ(o.code, 0) << o.err;
  const auto tl = nlohmann::json::parse(slurp(w / "t.json"));
  const auto& events = tl["traceEvents"];
  expect_slices_nest(events);
  size_t faults = 0, enomsg_instants = 0, lanes = 0;
  double polls_counter = 0;
  for (const auto& e : events) {
    if (e["ph"] == "X" && e["cat"] == "fault") ++faults;
    if (e["ph"] == "i" && e.contains("args") && e["args"].value("errno", "") == "ENOMSG")
      ++enomsg_instants;
    if (e["ph"] == "C" && e["name"] == "nothing-now polls")
      polls_counter = std::max(polls_counter, e["args"]["value"].get<double>());
    if (e["ph"] == "M" && e["name"] == "thread_name" &&
        e["args"]["name"].get<std::string>().rfind("faults ", 0) == 0)
      ++lanes;
  }
  const std::string trace = slurp(w / "t.trace");
  size_t trace_polls = 0;
  for (size_t at = 0; (at = trace.find("= -1 ENOMSG", at)) != std::string::npos; ++at)
    ++trace_polls;
  EXPECT_GT(faults, 1000u);
  EXPECT_GE(lanes, 1u) << "concurrent faults need a second lane";
  EXPECT_GT(trace_polls, 1000u);
  EXPECT_EQ(enomsg_instants, 0u) << "polls are not drawn one by one";
  EXPECT_EQ(polls_counter, static_cast<double>(trace_polls)) << "the counter ends at the total";
  EXPECT_EQ(tl["otherData"]["nothing_now_polls"]["src"].get<size_t>(), trace_polls);
}

// ------------------------------------------------------------------ VCD

struct Vcd {
  std::vector<std::string> header;
  std::map<std::string, std::string> name_of;  // id → name
  std::vector<uint64_t> times;
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> changes;  // name → (t, v)
};

Vcd parse_vcd(const std::string& text) {
  Vcd v;
  std::istringstream in(text);
  bool body = false;
  uint64_t now = 0;
  for (std::string l; std::getline(in, l);) {
    std::istringstream ls(l);
    std::vector<std::string> tok;
    for (std::string t; ls >> t;) tok.push_back(t);
    if (tok.empty()) continue;
    if (!body) v.header.push_back(tok[0]);
    if (tok[0] == "$var" && tok.size() >= 5) v.name_of[tok[3]] = tok[4];
    if (tok[0] == "$enddefinitions") body = true;
    if (!body) continue;
    if (tok[0][0] == '#') {
      now = std::stoull(tok[0].substr(1));
      v.times.push_back(now);
    } else if (tok[0][0] == 'b' && tok.size() == 2 && v.name_of.count(tok[1])) {
      v.changes[v.name_of[tok[1]]].emplace_back(now, std::stoull(tok[0].substr(1), nullptr, 2));
    } else if ((tok[0][0] == '0' || tok[0][0] == '1') && v.name_of.count(tok[0].substr(1))) {
      v.changes[v.name_of[tok[0].substr(1)]].emplace_back(now, tok[0][0] == '1');
    }
  }
  return v;
}

uint64_t value_at(const Vcd& v, const std::string& name, uint64_t t) {
  uint64_t value = 0;
  const auto it = v.changes.find(name);
  if (it != v.changes.end())
    for (const auto& [when, x] : it->second)
      if (when <= t) value = x;
  return value;
}

void check_vcd(const std::string& name, uint64_t src_final, uint64_t dst_final) {
  Workdir w;
  const RunFiles r = run_all(name, w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const Vcd v = parse_vcd(r.vcd);
  for (const char* h : {"$timescale", "$enddefinitions"})
    EXPECT_NE(std::find(v.header.begin(), v.header.end(), h), v.header.end()) << h;
  EXPECT_NE(r.vcd.find("1 ns"), std::string::npos);
  std::map<std::string, int> seen;
  for (const auto& [id, n] : v.name_of) ++seen[n];
  for (const char* s :
       {"src_device_state", "dst_device_state", "src_engine_busy", "dst_engine_busy", "dirty_pages",
        "link_bytes_in_flight", "remaining_bytes", "vm_downtime"})
    EXPECT_EQ(seen[s], 1) << s;
  ASSERT_GE(v.times.size(), 5u);
  for (size_t i = 1; i < v.times.size(); ++i) ASSERT_LT(v.times[i - 1], v.times[i]) << i;
  EXPECT_FALSE(r.outcome.err.find("Warning") != std::string::npos) << r.outcome.err;

  // The downtime: one pulse starting at the switchover, as long as the result's.
  const auto& dt = v.changes.at("vm_downtime");
  std::vector<std::pair<uint64_t, uint64_t>> edges;
  for (const auto& c : dt)
    if (c.first > 0) edges.push_back(c);
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_EQ(edges[0].second, 1u);
  EXPECT_EQ(edges[1].second, 0u);
  const double downtime_ns = r.result["downtime_s"].get<double>() * 1e9;
  EXPECT_NEAR(static_cast<double>(edges[1].first - edges[0].first), downtime_ns, 2.0);

  // Counters driven, the link idle at the end, the engines seen working.
  EXPECT_GT(v.changes.count("remaining_bytes") ? v.changes.at("remaining_bytes").size() : 0, 1u);
  EXPECT_GT(v.changes.count("dirty_pages") ? v.changes.at("dirty_pages").size() : 0, 1u);
  EXPECT_EQ(value_at(v, "link_bytes_in_flight", v.times.back()), 0u);
  EXPECT_EQ(value_at(v, "src_engine_busy", edges[0].first - 2'000'000), 1u)
      << "the source device works before the switchover";
  EXPECT_EQ(value_at(v, "src_device_state", v.times.back()), src_final);
  EXPECT_EQ(value_at(v, "dst_device_state", v.times.back()), dst_final);
}

// v2: source ends in STOP (1), destination RUNNING (2); v1: 000b and 001b.
TEST(RunOutputs, VcdOfV2PreCopyRun) { check_vcd("quickstart.json", 1, 2); }
TEST(RunOutputs, VcdOfV1Run) { check_vcd("protocol-v1.json", 0, 1); }

// ------------------------------------------------------------------ ABI trace

struct Call {
  double t;
  std::string host;
  std::string text;  // the line after the host
};

std::vector<Call> parse_trace(const std::string& text) {
  std::vector<Call> calls;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::istringstream ls(l);
    Call c;
    ls >> c.t >> c.host;
    std::getline(ls, c.text);
    calls.push_back(c);
  }
  return calls;
}

// The index of the first call at or after `from` on `host` whose text
// contains every one of `parts`; -1 when none.
long find_call(const std::vector<Call>& calls, size_t from, const std::string& host,
               const std::vector<std::string>& parts) {
  for (size_t i = from; i < calls.size(); ++i) {
    if (calls[i].host != host) continue;
    bool all = true;
    for (const auto& p : parts) all = all && calls[i].text.find(p) != std::string::npos;
    if (all) return static_cast<long>(i);
  }
  return -1;
}

// Each step must come after the previous one (on either host).
void expect_in_order(const std::vector<Call>& calls,
                     const std::vector<std::pair<std::string, std::vector<std::string>>>& steps) {
  size_t from = 0;
  for (const auto& [host, parts] : steps) {
    const long i = find_call(calls, from, host, parts);
    std::string what = host;
    for (const auto& p : parts) what += " | " + p;
    ASSERT_GE(i, 0) << "missing (in this order): " << what;
    from = static_cast<size_t>(i) + 1;
  }
}

// The zero-copy hand-off shows as what a VMM does: no "splice", and every
// source read of n device bytes is followed by the destination's write of
// the same n bytes, stamped when they arrived: one link transfer later.
void expect_device_bytes_as_read_write_pairs(const std::vector<Call>& calls) {
  const std::regex read_re(R"(^ read\(data:[0-9]+\) = ([0-9]+) )");
  const std::regex write_re(R"(^ write\(data:[0-9]+\) = ([0-9]+) )");
  size_t pairs = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    ASSERT_EQ(calls[i].text.find("splice"), std::string::npos) << calls[i].text;
    std::smatch m;
    if (calls[i].host != "src" || !std::regex_search(calls[i].text, m, read_re) || m[1] == "0")
      continue;
    const long j = find_call(calls, i + 1, "dst", {" write(data:"});
    ASSERT_GE(j, 0) << "no destination write after: " << calls[i].text;
    std::smatch w;
    ASSERT_TRUE(std::regex_search(calls[j].text, w, write_re)) << calls[j].text;
    EXPECT_EQ(w[1], m[1]) << "the write carries the bytes the read returned";
    EXPECT_GT(calls[j].t, calls[i].t) << "the bytes cross the link before they are written";
    // Nothing else on the source between the read and its write.
    for (long k = static_cast<long>(i) + 1; k < j; ++k)
      EXPECT_NE(calls[k].text.find(" read(data:"), 0u) << calls[k].text;
    ++pairs;
  }
  EXPECT_GE(pairs, 2u);
}

TEST(RunOutputs, AbiTraceOfV2PreCopyRunFollowsTheDriver) {
  Workdir w;
  const RunFiles r = run_all("quickstart.json", w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const auto calls = parse_trace(r.trace);
  ASSERT_GT(calls.size(), 10u);
  for (size_t i = 1; i < calls.size(); ++i) ASSERT_LE(calls[i - 1].t, calls[i].t) << i;
  for (const auto& c : calls) ASSERT_TRUE(c.host == "src" || c.host == "dst") << c.host;

  // What MigrationDriver does for a v2 device with PRE_COPY (setup, one or
  // more iterations, switchover, source cleanup).
  const std::string set = "VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE)";
  expect_in_order(calls,
                  {
                      {"src", {"VFIO_DEVICE_FEATURE(GET MIGRATION)", "= 0"}},
                      {"src", {set, "device_state=PRE_COPY", "[RUNNING -> PRE_COPY]", "data_fd="}},
                      {"dst", {set, "device_state=RESUMING", "-> RESUMING]", "data_fd="}},
                      {"src", {"VFIO_MIG_GET_PRECOPY_INFO", "= 0"}},
                      {"src", {"read(data:", "[PRE_COPY]"}},
                      {"dst", {"write(data:", "[RESUMING]", "after the source read them"}},
                      {"src", {"GET MIG_DATA_SIZE"}},
                      {"src", {set, "device_state=STOP_COPY", "[PRE_COPY ->", "-> STOP_COPY]"}},
                      {"src", {"read(data:", "[STOP_COPY]"}},
                      {"dst", {"write(data:", "[RESUMING]"}},
                      {"src", {"read(data:", ") = 0 [STOP_COPY]"}},  // end of stream
                      {"dst", {set, "device_state=RUNNING", "[RESUMING ->", "-> RUNNING]"}},
                      {"src", {set, "device_state=STOP", "[STOP_COPY -> STOP]"}},
                  });
  // Per host, the state-changing calls are exactly these, in this order.
  std::map<std::string, std::vector<std::string>> changes;
  const std::regex arrow(R"(\[([A-Z_0-9]+) -> (?:[A-Z_0-9]+ -> )*([A-Z_0-9]+)\])");
  for (const auto& c : calls) {
    std::smatch m;
    if (std::regex_search(c.text, m, arrow))
      changes[c.host].push_back(m[1].str() + ">" + m[2].str());
  }
  EXPECT_EQ(changes["src"],
            (std::vector<std::string>{"RUNNING>PRE_COPY", "PRE_COPY>STOP_COPY", "STOP_COPY>STOP"}));
  EXPECT_EQ(changes["dst"], (std::vector<std::string>{"RUNNING>RESUMING", "RESUMING>RUNNING"}));
  // No call failed except PRE_COPY's "nothing to read now".
  for (const auto& c : calls) {
    if (c.text.find(" = -1 ") != std::string::npos) {
      EXPECT_NE(c.text.find("ENOMSG"), std::string::npos) << c.text;
    }
  }
  expect_device_bytes_as_read_write_pairs(calls);
}

TEST(RunOutputs, AbiTraceOfExactRunHasTheSamePairs) {
  Workdir w;
  const auto o =
      mdevsim("run " + scenario("quickstart.json") + " --exact --trace " + (w / "t.trace"), w);
  ASSERT_EQ(o.code, 0) << o.err;
  expect_device_bytes_as_read_write_pairs(parse_trace(slurp(w / "t.trace")));
}

TEST(RunOutputs, AbiTraceOfV1RunFollowsTheDriver) {
  Workdir w;
  const RunFiles r = run_all("protocol-v1.json", w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const auto calls = parse_trace(r.trace);
  expect_in_order(calls, {
                             {"src", {"device_state=011b", "[001b -> 011b]"}},
                             {"dst", {"device_state=100b", "-> 100b]"}},
                             {"src", {"pread(device, pending_bytes"}},
                             {"src", {"pread(device, data["}},
                             {"dst", {"pwrite(device, data["}},
                             {"src", {"device_state=010b", "[011b -> 010b]"}},
                             {"dst", {"device_state=001b", "[100b -> 001b]"}},
                             {"src", {"device_state=000b", "[010b -> 000b]"}},
                         });
}

// ------------------------------------------------------------------ report

TEST(RunOutputs, ReportOfARealRunHasItsChartsWithData) {
  Workdir w;
  const RunFiles r = run_all("protocol-v1.json", w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const std::string& html = r.report;
  ASSERT_FALSE(html.empty());
  for (const char* id :
       {"chart-iterations", "chart-remaining", "chart-dirty", "diagram-states", "bar-downtime"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  // A chart with nothing to draw says "no data: ..." under its id.
  for (const char* id : {"chart-iterations", "chart-remaining", "chart-dirty", "diagram-states"}) {
    const auto at = html.find(std::string("id=\"") + id + "\"");
    ASSERT_NE(at, std::string::npos);
    const auto tag_end = html.find('>', at);
    EXPECT_EQ(html.substr(at, tag_end - at).find("no data"), std::string::npos) << id;
    EXPECT_EQ(html.substr(tag_end, 400).find("no data"), std::string::npos) << id;
  }
  EXPECT_NE(html.find("protocol-v1"), std::string::npos);
  EXPECT_NE(html.find("011b"), std::string::npos) << "the path taken lists v1 states";
}

// The report of a real run in headless Chromium (as tests/sim/
// test_report_browser.cpp does for synthetic runs): the script ran, the
// console stayed silent, and the time charts have drawn series.
TEST(RunOutputs, ReportOfARealRunRendersInChromium) {
  const char* env = std::getenv("MDEVSIM_CHROMIUM");
  const std::string chromium = env && *env ? env : "/usr/bin/chromium";
  if (::access(chromium.c_str(), X_OK) != 0)
    GTEST_SKIP() << "chromium not installed: run scripts/install-deps";
  Workdir w;
  const RunFiles r = run_all("quickstart.json", w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  const std::string cmd = "timeout 120 " + chromium +
                          " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
                          " --no-first-run --no-default-browser-check --user-data-dir='" +
                          (w / "profile") +
                          "' --enable-logging=stderr --v=0 --window-size=1200,2400 --dump-dom"
                          " 'file://" +
                          (w / "t.html") + "' >'" + (w / "dom.html") + "' 2>'" +
                          (w / "chromium.err") + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(w / "chromium.err");
  const std::string dom = slurp(w / "dom.html");
  EXPECT_NE(dom.find("data-ready=\"1\""), std::string::npos) << "the tooltip script ran";
  std::istringstream err(slurp(w / "chromium.err"));
  for (std::string l; std::getline(err, l);)
    EXPECT_TRUE(l.find(":CONSOLE") == std::string::npos && l.find("Uncaught") == std::string::npos)
        << l;
  for (const char* id : {"chart-iterations", "chart-remaining", "chart-dirty", "diagram-states"}) {
    const auto at = dom.find(std::string("id=\"") + id + "\"");
    ASSERT_NE(at, std::string::npos) << id;
    const auto open = dom.rfind("<svg", at), close = dom.find("</svg>", at);
    ASSERT_NE(close, std::string::npos) << id;
    const std::string svg = dom.substr(open, close - open);
    EXPECT_EQ(svg.find("no data"), std::string::npos) << id;
    EXPECT_TRUE(
        svg.find("<rect") != std::string::npos || svg.find("<circle") != std::string::npos ||
        svg.find("<polyline") != std::string::npos || svg.find("<path") != std::string::npos)
        << id << " draws nothing";
  }
}

// ------------------------------------------------------------------ CLI

// RunRecorder adds no SystemC process: the models' order at equal timestamps,
// and so the result, stays that of a plain run. idle-desktop and
// dma-tracking-off changed with an extra periodic process.
TEST(RunOutputs, OutputsDoNotChangeTheResult) {
  for (const char* name : {"quickstart.json", "idle-desktop.json", "dma-tracking-off.json"}) {
    Workdir w;
    const RunFiles with = run_all(name, w);
    const Outcome without = mdevsim("run " + scenario(name) + " --json -", w);
    EXPECT_EQ(with.outcome.code, without.code) << name;
    EXPECT_FALSE(without.out.empty()) << name;
    EXPECT_EQ(with.outcome.out, without.out) << name;
  }
}

// On a terminal: the progress line, cleared at the end, and the same result.
TEST(RunOutputs, ProgressLineOnATerminal) {
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) not installed";
  Workdir w;
  const std::string json = w / "tty.json";
  const Outcome tty = mdevsim("run " + scenario("idle-desktop.json") + " --json -", w);
  // script gives the command a pseudo-terminal; the typescript is its output.
  const std::string cmd = "MDEVSIM_PROGRESS_AFTER=0 " + std::string(MDEVSIM_BINARY_DIR) +
                          "/mdevsim run " + scenario("idle-desktop.json") + " --json " + json;
  ASSERT_EQ(
      std::system(("script -qfec '" + cmd + "' " + (w / "typescript") + " >/dev/null").c_str()), 0);
  const std::string seen = slurp(w / "typescript");
  EXPECT_NE(seen.find("\r  sim "), std::string::npos) << seen;
  EXPECT_NE(seen.find("iteration "), std::string::npos) << seen;
  EXPECT_NE(seen.find("pre-copy"), std::string::npos) << seen;
  // Cleared before the summary: the summary's first line follows a '\r'.
  EXPECT_NE(seen.find("\rscenario   idle-desktop"), std::string::npos) << seen;
  EXPECT_EQ(slurp(json), tty.out) << "the terminal does not change the result";
}

TEST(RunOutputs, UnwritablePathsStopBeforeTheRun) {
  Workdir w;
  for (const char* opt : {"--json", "--trace", "--timeline", "--vcd", "--report"}) {
    const std::string bad = w / "no-such-dir/out.file";
    const Outcome r = mdevsim("run " + scenario("quickstart.json") + " " + opt + " " + bad, w);
    EXPECT_EQ(r.code, 2) << opt;
    EXPECT_NE(r.err.find("mdevsim run: cannot write " + bad), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("scenario"), std::string::npos) << opt << ": the run must not start";
  }
}

TEST(RunOutputs, DeviceOnlyRunWritesEveryOutput) {
  Workdir w;
  const RunFiles r = run_all("device-only.json", w);
  ASSERT_EQ(r.outcome.code, 0) << r.outcome.err;
  EXPECT_TRUE(r.trace.empty()) << "no VFIO calls in a device-only run";
  const auto tl = nlohmann::json::parse(r.timeline);
  bool device_run = false;
  for (const auto& e : tl["traceEvents"])
    if (e["ph"] == "X" && e["name"] == "device run") device_run = true;
  EXPECT_TRUE(device_run);
  EXPECT_NE(r.report.find("id=\"chart-unique-pages\""), std::string::npos);
  const Vcd v = parse_vcd(r.vcd);
  EXPECT_EQ(value_at(v, "src_engine_busy", 1'000'000'000), 1u);
}

TEST(RunOutputs, HelpDescribesTheOutputs) {
  Workdir w;
  const Outcome r = mdevsim("run --help", w);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.find("not implemented"), std::string::npos);
  for (const char* s : {"--trace FILE", "--timeline FILE", "--vcd FILE", "--report FILE"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

TEST(RunOutputs, NoProgressLineWhenStderrIsNotATerminal) {
  Workdir w;
  const Outcome r = mdevsim("run " + scenario("quickstart.json"), w);
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
}

// ------------------------------------------------------------------ in-process

// RunRecorder fed by the real driver: link spans are per send, not per slice,
// and each span's name matches what the link carried.
TEST(RunRecorder, LinkSpansCoalesceSlices) {
  using namespace mdevsim::sim;
  const Scenario s = load_scenario(scenario("protocol-v1.json"), {});
  RecorderOptions o;
  o.record = true;
  RunRecorder rec(o);
  RunOptions ro;
  ro.recorder = &rec;
  const Result r = run_migration(s, ro);
  rec.close();
  ASSERT_EQ(r.outcome, "completed");
  size_t link = 0;
  double prev_end = -1;
  for (const auto& sp : rec.log.spans) {
    if (sp.track != "link") continue;
    ++link;
    EXPECT_TRUE(sp.name == "RAM pages" || sp.name == "device data") << sp.name;
    EXPECT_GE(sp.start_s, prev_end) << "link spans do not overlap";
    EXPECT_GE(sp.end_s, sp.start_s);
    prev_end = sp.end_s;
  }
  // Two iterations and the stop-and-copy, RAM and device data each.
  EXPECT_LE(link, 2 * (r.iterations.size() + 1));
  EXPECT_GE(link, 2u);
  EXPECT_GT(rec.log.switchover_s, 0);
  // The downtime span is exactly the result's.
  bool found = false;
  for (const auto& sp : rec.log.spans)
    if (sp.track == "vm" && sp.name == "downtime") {
      found = true;
      EXPECT_DOUBLE_EQ(sp.start_s, rec.log.switchover_s);
      EXPECT_NEAR(sp.end_s - sp.start_s, r.downtime_s, 1e-12);
    }
  EXPECT_TRUE(found);
}

}  // namespace
