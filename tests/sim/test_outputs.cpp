// The ABI trace and timeline writers, from a hand-built RunLog of a v2
// pre-copy migration, and AbiRecorder on a real frontend.
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../vfio_frontend/frontend_fixture.h"
#include "mdevsim/sim/outputs.h"

namespace mdevsim::sim {
namespace {

using nlohmann::json;
using vfio::CallRecord;

CallRecord set_state_call(std::string before, std::string target, std::string after,
                          std::vector<std::string> path, long ret, std::vector<std::string> notes) {
  CallRecord c;
  c.call = "ioctl";
  c.fd = 4;
  c.fd_kind = "device";
  c.request = "VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE)";
  c.args = "device_state=" + target;
  c.ret = ret;
  c.state_before = std::move(before);
  c.state_after = std::move(after);
  c.path = std::move(path);
  c.notes = std::move(notes);
  return c;
}

CallRecord data_call(std::string call, int fd, long ret, std::string state,
                     std::vector<std::string> notes = {}) {
  CallRecord c;
  c.call = std::move(call);
  c.fd = fd;
  c.fd_kind = "data";
  c.request = c.call == "close" ? "fd" : "data";  // the frontend's placeholders
  c.ret = ret;
  c.state_before = state;
  c.state_after = state;
  c.notes = std::move(notes);
  return c;
}

// A v2 pre-copy migration as the driver would record it, plus a blocked arc.
RunLog migration_log() {
  RunLog log;
  log.enabled = true;
  log.protocol = "v2";
  log.features = {"STOP_COPY", "P2P", "PRE_COPY"};
  log.abi = {
      {0.5, "src",
       set_state_call("RUNNING", "PRE_COPY", "PRE_COPY", {"RUNNING", "PRE_COPY"}, 0,
                      {"a new save data fd 5 streams the device state"})},
      {0.5, "dst",
       set_state_call("RUNNING", "RESUMING", "RESUMING",
                      {"RUNNING", "RUNNING_P2P", "STOP", "RESUMING"}, 0,
                      {"the device stopped: no DMA, no state change until it runs again",
                       "a new resume data fd 5 accepts the device state"})},
      {0.75, "src", data_call("read", 5, 1048576, "PRE_COPY")},
      {0.8, "dst", data_call("write", 5, 1048576, "RESUMING")},
      {0.9, "src",
       data_call("read", 5, -ENOMSG, "PRE_COPY",
                 {"ENOMSG: nothing to read in PRE_COPY now: a temporary end of stream"})},
      {1.0, "src",
       set_state_call("PRE_COPY", "STOP_COPY", "STOP_COPY",
                      {"PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"}, 0,
                      {"the device stopped; the same data fd now carries the final state and "
                       "then ends"})},
      {1.05, "src",
       set_state_call("STOP_COPY", "PRE_COPY", "STOP_COPY", {"STOP_COPY"}, -EINVAL,
                      {"EINVAL: STOP_COPY -> PRE_COPY is a blocked arc: no path leads there"})},
      {1.25, "src",
       data_call("close", 5, 0, "STOP_COPY",
                 {"closing a data fd does not change the device state"})},
  };
  log.spans = {
      {"src migration", "setup", 0.0, 0.5},         {"src migration", "iteration 1", 0.5, 1.0},
      {"src migration", "stop-and-copy", 1.0, 1.3}, {"dst migration", "resume", 1.3, 1.3123456789},
      {"src device", "RUNNING", 0.0, 0.5},          {"src device", "PRE_COPY", 0.5, 1.0},
      {"dst device", "RESUMING", 0.5, 1.3},         {"link", "RAM pages", 0.5, 0.9},
      {"link", "device data", 1.0, 1.25},           {"vm", "downtime", 1.0, 1.0123456789},
  };
  log.counters = {
      {"dirty pages", 0.5, 1200},
      {"dirty pages", 1.0, 40},
      {"remaining bytes", 1.0, 65536},
      {"link bytes in flight", 0.6, 4096},
      {"faults", 1.2, 3},
  };
  log.faults = {{1.1, 0.0002, "vram", 17}};
  log.states = {{0, "src", "RUNNING"}, {0.5, "src", "PRE_COPY"}};
  log.switchover_s = 1.0;
  return log;
}

Result migration_result() {
  Result r;
  r.scenario = "unit";
  r.seed = 7;
  r.converged = true;
  r.total_time_s = 1.4;
  r.downtime_s = 0.0123456789;
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// ------------------------------------------------------------ ABI trace

TEST(OutputsAbiTrace, OneLinePerCallInTheDocumentedFormat) {
  std::ostringstream out;
  write_abi_trace(migration_log(), out);
  const std::vector<std::string> expected = {
      "   0.500000000 src ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE), "
      "{device_state=PRE_COPY}) = 0 [RUNNING -> PRE_COPY] data_fd=5  # a new save data fd 5 "
      "streams the device state",
      "   0.500000000 dst ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE), "
      "{device_state=RESUMING}) = 0 [RUNNING -> RUNNING_P2P -> STOP -> RESUMING] data_fd=5  # "
      "the device stopped: no DMA, no state change until it runs again; a new resume data fd 5 "
      "accepts the device state",
      "   0.750000000 src read(data:5) = 1048576 [PRE_COPY]",
      "   0.800000000 dst write(data:5) = 1048576 [RESUMING]",
      "   0.900000000 src read(data:5) = -1 ENOMSG (nothing to read in PRE_COPY now: a temporary "
      "end of stream) [PRE_COPY]",
      "   1.000000000 src ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE), "
      "{device_state=STOP_COPY}) = 0 [PRE_COPY -> PRE_COPY_P2P -> STOP_COPY]  # the device "
      "stopped; the same data fd now carries the final state and then ends",
      "   1.050000000 src ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE), "
      "{device_state=PRE_COPY}) = -1 EINVAL (STOP_COPY -> PRE_COPY is a blocked arc: no path "
      "leads there) [STOP_COPY]",
      "   1.250000000 src close(data:5) = 0 [STOP_COPY]  # closing a data fd does not change the "
      "device state",
  };
  EXPECT_EQ(lines_of(out.str()), expected);
  EXPECT_EQ(out.str().back(), '\n');
}

TEST(OutputsAbiTrace, V1RegionAccessAndUnknownErrnoAndContainer) {
  AbiEvent pread{12.000000001, "dst", {}};
  pread.call.call = "pread";
  pread.call.fd = 4;
  pread.call.fd_kind = "device";
  pread.call.request = "pending_bytes";
  pread.call.args = "offset=8 len=8";
  pread.call.ret = 8;
  pread.call.state_before = pread.call.state_after = "011b";
  pread.call.notes = {"reading pending_bytes acknowledges the previous buffer"};
  EXPECT_EQ(format_abi_line(pread),
            "  12.000000001 dst pread(device, pending_bytes, {offset=8 len=8}) = 8 [011b]  # "
            "reading pending_bytes acknowledges the previous buffer");

  AbiEvent odd{0, "src", {}};
  odd.call.call = "ioctl";
  odd.call.fd = 9;
  odd.call.fd_kind = "unknown";
  odd.call.request = "";
  odd.call.ret = -200;  // no name: E<n>, and no note explains it
  odd.call.notes = {"line one\nline two"};
  EXPECT_EQ(format_abi_line(odd), "   0.000000000 src ioctl(9) = -1 E200  # line one line two");

  AbiEvent map{0.25, "src", {}};
  map.call.call = "ioctl";
  map.call.fd = 3;
  map.call.fd_kind = "container";
  map.call.request = "VFIO_IOMMU_MAP_DMA";
  map.call.args = "iova=0 size=4096";
  map.call.ret = 0;
  map.call.state_before = map.call.state_after = "RUNNING";
  EXPECT_EQ(format_abi_line(map),
            "   0.250000000 src ioctl(container, VFIO_IOMMU_MAP_DMA, {iova=0 size=4096}) = 0 "
            "[RUNNING]");
}

TEST(OutputsAbiTrace, EmptyLogGivesEmptyTrace) {
  std::ostringstream out;
  write_abi_trace(RunLog{}, out);
  EXPECT_EQ(out.str(), "");
}

// ------------------------------------------------------------- timeline

// The timeline, parsed, with names resolved through its metadata events.
struct Parsed {
  json doc;
  std::map<int, std::string> process;                  // pid → name
  std::map<std::pair<int, int>, std::string> threads;  // (pid, tid) → name
  std::vector<json> events;                            // everything but "M"

  std::string where(const json& e) const {
    const int pid = e.at("pid"), tid = e.value("tid", 0);
    const auto p = process.find(pid);
    const auto t = threads.find({pid, tid});
    return (p == process.end() ? "?" : p->second) + "/" + (t == threads.end() ? "?" : t->second);
  }
  std::vector<json> of(const std::string& ph) const {
    std::vector<json> v;
    for (const auto& e : events)
      if (e.at("ph") == ph) v.push_back(e);
    return v;
  }
};

Parsed timeline(const RunLog& log, const Result& r) {
  std::ostringstream out;
  write_timeline(log, r, out);
  Parsed p;
  p.doc = json::parse(out.str());  // throws (and fails the test) on invalid JSON
  for (const auto& e : p.doc.at("traceEvents")) {
    if (e.at("ph") != "M") {
      p.events.push_back(e);
      continue;
    }
    if (e.at("name") == "process_name") p.process[e.at("pid")] = e.at("args").at("name");
    if (e.at("name") == "thread_name")
      p.threads[{e.at("pid"), e.at("tid")}] = e.at("args").at("name");
  }
  return p;
}

void expect_documented_tracks(const Parsed& p) {
  std::set<std::string> procs, threads;
  for (const auto& [pid, name] : p.process) procs.insert(name);
  for (const auto& [key, name] : p.threads) threads.insert(p.process.at(key.first) + "/" + name);
  EXPECT_EQ(procs, (std::set<std::string>{"src host", "dst host", "link", "vm"}));
  for (const char* t :
       {"src host/migration", "src host/device state", "src host/abi", "dst host/migration",
        "dst host/device state", "dst host/abi", "dst host/faults", "link/transfers", "vm/vm"})
    EXPECT_TRUE(threads.count(t)) << t;
}

TEST(OutputsTimeline, ParsesWithTheDocumentedTracks) {
  const auto p = timeline(migration_log(), migration_result());
  EXPECT_EQ(p.doc.at("displayTimeUnit"), "ms");
  EXPECT_EQ(p.doc.at("otherData").at("scenario"), "unit");
  EXPECT_EQ(p.doc.at("otherData").at("protocol"), "v2");
  expect_documented_tracks(p);
  for (const auto& e : p.events) {
    EXPECT_GE(e.at("ts").get<double>(), 0.0) << e.dump();
    if (e.at("ph") == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0.0) << e.dump();
    }
  }
}

TEST(OutputsTimeline, SpansAreCompleteEventsOnTheirTracks) {
  const auto p = timeline(migration_log(), migration_result());
  std::multimap<std::string, std::string> spans;  // where → name
  for (const auto& e : p.of("X")) spans.emplace(p.where(e), e.at("name"));
  auto has = [&](const std::string& where, const std::string& name) {
    auto [b, e] = spans.equal_range(where);
    for (auto it = b; it != e; ++it)
      if (it->second == name) return true;
    return false;
  };
  EXPECT_TRUE(has("src host/migration", "setup"));
  EXPECT_TRUE(has("src host/migration", "iteration 1"));
  EXPECT_TRUE(has("src host/migration", "stop-and-copy"));
  EXPECT_TRUE(has("dst host/migration", "resume"));
  EXPECT_TRUE(has("src host/device state", "PRE_COPY"));
  EXPECT_TRUE(has("dst host/device state", "RESUMING"));
  EXPECT_TRUE(has("link/transfers", "RAM pages"));
  EXPECT_TRUE(has("vm/vm", "downtime"));
  EXPECT_EQ(spans.size(), 10u + 1u) << "10 spans and 1 page fault";

  for (const auto& e : p.of("X"))
    if (e.at("name") == "iteration 1") {
      EXPECT_DOUBLE_EQ(e.at("ts").get<double>(), 500000.0);
      EXPECT_DOUBLE_EQ(e.at("dur").get<double>(), 500000.0);
    }
}

TEST(OutputsTimeline, DowntimeIsHighlightedAndExactlyAsLongAsTheResultSays) {
  const auto r = migration_result();
  const auto p = timeline(migration_log(), r);
  int found = 0;
  for (const auto& e : p.of("X")) {
    if (e.at("name") != "downtime") continue;
    ++found;
    EXPECT_EQ(p.where(e), "vm/vm");
    EXPECT_EQ(e.at("cname"), "terrible");
    EXPECT_EQ(e.at("cat"), "downtime");
    EXPECT_NEAR(e.at("dur").get<double>(), r.downtime_s * 1e6, r.downtime_s * 1e6 * 1e-6);
    EXPECT_NEAR(e.at("ts").get<double>(), 1e6, 1e-6);
  }
  EXPECT_EQ(found, 1);
}

TEST(OutputsTimeline, DowntimeFromSwitchoverWhenTheDriverRecordedNoSpan) {
  RunLog log;
  log.switchover_s = 2.0;
  Result r;
  r.downtime_s = 0.25;
  const auto p = timeline(log, r);
  ASSERT_EQ(p.of("X").size(), 1u);
  const auto e = p.of("X")[0];
  EXPECT_EQ(e.at("name"), "downtime");
  EXPECT_EQ(p.where(e), "vm/vm");
  EXPECT_NEAR(e.at("ts").get<double>(), 2e6, 1e-6);
  EXPECT_NEAR(e.at("dur").get<double>(), 250000.0, 1e-6);
}

TEST(OutputsTimeline, CountersAreCounterEvents) {
  const auto p = timeline(migration_log(), migration_result());
  const auto c = p.of("C");
  ASSERT_EQ(c.size(), 6u);  // the log's 5 and the one "nothing now" poll
  std::multimap<std::string, double> values;
  for (const auto& e : c) values.emplace(e.at("name"), e.at("args").at("value").get<double>());
  EXPECT_EQ(values.count("dirty pages"), 2u);
  EXPECT_EQ(values.count("remaining bytes"), 1u);
  EXPECT_EQ(values.count("link bytes in flight"), 1u);
  EXPECT_EQ(values.count("faults"), 1u);
  EXPECT_EQ(values.count("nothing-now polls"), 1u);
  EXPECT_EQ(values.find("remaining bytes")->second, 65536.0);
  for (const auto& e : c) {
    if (e.at("name") == "link bytes in flight") {
      EXPECT_EQ(p.process.at(e.at("pid")), "link");
    }
  }
}

TEST(OutputsTimeline, PageFaultsLastTheirStall) {
  const auto p = timeline(migration_log(), migration_result());
  int found = 0;
  for (const auto& e : p.of("X"))
    if (p.where(e) == "dst host/faults") {
      ++found;
      EXPECT_EQ(e.at("name"), "vram page 17");
      EXPECT_NEAR(e.at("ts").get<double>(), 1.1e6, 1e-6);
      EXPECT_NEAR(e.at("dur").get<double>(), 200.0, 1e-9);
    }
  EXPECT_EQ(found, 1);
}

TEST(OutputsTimeline, AbiCallsAreInstantsOnTheHostsAbiThread) {
  const auto log = migration_log();
  const auto p = timeline(log, migration_result());
  std::vector<json> abi;
  for (const auto& e : p.of("i"))
    if (e.at("name") != "switchover") abi.push_back(e);
  ASSERT_EQ(abi.size(), log.abi.size() - 1) << "all but the ENOMSG poll (a counter)";
  EXPECT_EQ(p.where(abi[0]), "src host/abi");
  EXPECT_EQ(p.where(abi[1]), "dst host/abi");
  EXPECT_EQ(abi[0].at("name"), "ioctl VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE)");
  EXPECT_EQ(abi[0].at("args").at("state_after"), "PRE_COPY");
  EXPECT_EQ(abi[2].at("name"), "read");
  EXPECT_EQ(abi[2].at("args").at("ret"), 1048576);
  EXPECT_EQ(abi[5].at("args").at("errno"), "EINVAL");
  EXPECT_EQ(abi[5].at("cat"), "abi,error");
  EXPECT_EQ(abi[5].at("args").at("notes")[0],
            "EINVAL: STOP_COPY -> PRE_COPY is a blocked arc: no path leads there");
  EXPECT_NEAR(abi[5].at("ts").get<double>(), 1.05e6, 1e-6);
}

// Every pair of slices of one thread is disjoint or nested (Perfetto's rule).
void expect_slices_nest(const Parsed& p) {
  std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> by_thread;
  for (const auto& e : p.of("X")) {
    const double ts = e.at("ts").get<double>();
    by_thread[{e.at("pid").get<int>(), e.at("tid").get<int>()}].push_back(
        {ts, ts + e.at("dur").get<double>()});
  }
  for (auto& [thread, v] : by_thread) {
    std::sort(v.begin(), v.end());
    for (size_t i = 0; i < v.size(); ++i)
      for (size_t j = i + 1; j < v.size() && v[j].first < v[i].second; ++j)
        EXPECT_LE(v[j].second, v[i].second)
            << "tid " << thread.second << " slices " << i << ", " << j << " partially overlap";
  }
}

TEST(OutputsTimeline, ConcurrentFaultsGetLanesWhereTheyNest) {
  RunLog log;
  // a [0, 10 ms) and b [5, 15 ms) overlap partially; c [1, 2 ms) nests in a;
  // d [12, 20 ms) overlaps b but not a; e [30, 31 ms) is alone.
  log.faults = {{0.000, 0.010, "vram", 1},
                {0.005, 0.010, "vram", 2},
                {0.001, 0.001, "ram", 3},
                {0.012, 0.008, "vram", 4},
                {0.030, 0.001, "vram", 5}};
  const auto p = timeline(log, Result{});
  expect_slices_nest(p);
  std::map<std::string, std::string> lane;  // fault name → thread
  for (const auto& e : p.of("X")) lane[e.at("name")] = p.where(e);
  ASSERT_EQ(lane.size(), 5u) << "every fault is drawn";
  EXPECT_EQ(lane["vram page 1"], "dst host/faults");
  EXPECT_EQ(lane["ram page 3"], "dst host/faults") << "nested: stays";
  EXPECT_EQ(lane["vram page 2"], "dst host/faults 2") << "partial overlap: next lane";
  EXPECT_EQ(lane["vram page 4"], "dst host/faults") << "fits after the first one ended";
  EXPECT_EQ(lane["vram page 5"], "dst host/faults");
}

TEST(OutputsTimeline, NothingNowPollsAreACounterNotInstants) {
  RunLog log;
  // 1000 ENOMSG polls over 10 ms, and a failed call of another kind.
  for (int i = 0; i < 1000; ++i)
    log.abi.push_back({0.100 + i * 1e-5, "src",
                       data_call("read", 5, -ENOMSG, "POSTCOPY_SERVE",
                                 {"ENOMSG: nothing queued: ask for pages"})});
  log.abi.push_back(
      {0.2, "src", data_call("write", 5, -EBADF, "POSTCOPY_SERVE", {"EBADF: a save fd"})});
  const auto p = timeline(log, Result{});
  const auto instants = p.of("i");
  ASSERT_EQ(instants.size(), 1u) << "only the real failure is an instant";
  EXPECT_EQ(instants[0].at("cat"), "abi,error");
  const auto c = p.of("C");
  ASSERT_GE(c.size(), 2u);
  EXPECT_LE(c.size(), 12u) << "at most one sample per millisecond, and the last";
  double last = 0, prev = 0;
  for (const auto& e : c) {
    EXPECT_EQ(e.at("name"), "nothing-now polls");
    EXPECT_EQ(p.where(e).rfind("src host", 0), 0u);
    last = e.at("args").at("value").get<double>();
    EXPECT_GE(last, prev) << "a running count";
    prev = last;
  }
  EXPECT_EQ(last, 1000.0);
  EXPECT_EQ(p.doc.at("otherData").at("nothing_now_polls").at("src"), 1000);
}

TEST(OutputsTimeline, EmptyRunLogIsStillAValidTrace) {
  const auto p = timeline(RunLog{}, Result{});
  expect_documented_tracks(p);
  EXPECT_TRUE(p.events.empty());
  EXPECT_EQ(p.doc.at("displayTimeUnit"), "ms");
  EXPECT_TRUE(p.doc.at("otherData").is_object());
}

TEST(OutputsTimeline, UnknownTracksGetTheirOwnThreads) {
  RunLog log;
  log.spans = {{"src dma", "burst", 0.1, 0.2}, {"gpu", "frame", 0.0, 0.1}};
  const auto p = timeline(log, Result{});
  std::set<std::string> where;
  for (const auto& e : p.of("X")) where.insert(p.where(e));
  EXPECT_EQ(where, (std::set<std::string>{"src host/dma", "other/gpu"}));
}

// ----------------------------------------------------------- AbiRecorder

TEST(OutputsAbiRecorder, RecordsCallsAndStatesDirectly) {
  RunLog log;
  AbiRecorder rec(log, "dst");
  rec.on_call(set_state_call("RUNNING", "RESUMING", "RESUMING",
                             {"RUNNING", "RUNNING_P2P", "STOP", "RESUMING"}, 0, {}));
  rec.on_call(data_call("write", 5, 4096, "RESUMING"));
  rec.on_call(set_state_call("RESUMING", "PRE_COPY", "RESUMING", {"RESUMING"}, -EINVAL, {}));
  ASSERT_EQ(log.abi.size(), 3u);
  EXPECT_EQ(log.abi[1].host, "dst");
  EXPECT_EQ(log.abi[1].call.ret, 4096);
  std::vector<std::string> states;
  for (const auto& s : log.states) {
    EXPECT_EQ(s.host, "dst");
    states.push_back(s.state);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"RUNNING", "RUNNING_P2P", "STOP", "RESUMING"}));
}

TEST(OutputsAbiRecorder, OnARealFrontendStampsSystemcTime) {
  auto cfg = vfio::testing::test_device_config();
  models::GpuDevice dev("src_dev", cfg);
  vfio::Frontend fe(dev, {});
  RunLog log;
  AbiRecorder rec(log, "src");
  fe.set_observer(&rec);

  sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_MS));
  int fd = -1;
  ASSERT_EQ(vfio::testing::set_state(fe, vfio::MigState::kPreCopy, &fd), 0);
  sc_core::sc_start(sc_core::sc_time(2, sc_core::SC_MS));
  ASSERT_EQ(vfio::testing::set_state(fe, vfio::MigState::kStopCopy), 0);

  ASSERT_EQ(log.abi.size(), 2u);
  EXPECT_DOUBLE_EQ(log.abi[0].t_s, 0.001);
  EXPECT_DOUBLE_EQ(log.abi[1].t_s, 0.003);
  // The frontend's own record, through the trace writer: data_fd is the fd
  // the caller got back.
  EXPECT_EQ(format_abi_line(log.abi[0]),
            "   0.001000000 src ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE), "
            "{device_state=PRE_COPY}) = 0 [RUNNING -> PRE_COPY] data_fd=" +
                std::to_string(fd) + "  # a new save data fd " + std::to_string(fd) +
                " streams the device state while the device keeps running (pre-copy)");

  std::vector<std::string> states;
  std::vector<double> times;
  for (const auto& s : log.states) {
    states.push_back(s.state);
    times.push_back(s.t_s);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"RUNNING", "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"}));
  ASSERT_EQ(times.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(times[i], i < 2 ? 0.001 : 0.003, 1e-12) << i;
}

}  // namespace
}  // namespace mdevsim::sim
