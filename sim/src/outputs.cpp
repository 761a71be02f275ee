#include "mdevsim/sim/outputs.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <systemc>

namespace mdevsim::sim {
namespace {

// One call must stay on one line whatever a note or argument contains.
std::string one_line(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string fd_operand(const vfio::CallRecord& c) {
  // The container and device fds are fixed per frontend: their kind says it all.
  if (c.fd_kind == "container" || c.fd_kind == "device") return c.fd_kind;
  if (c.fd_kind == "data") return "data:" + std::to_string(c.fd);
  if (c.fd_kind == "eventfd") return "eventfd:" + std::to_string(c.fd);  // post-copy faults
  return std::to_string(c.fd);
}

// ENOMSG from a data fd read: the stream has nothing now (pre-copy caught
// up, or a post-copy source with no page asked for), come back later.
bool is_nothing_now(const vfio::CallRecord& c) {
  return c.call == "read" && c.fd_kind == "data" && c.ret == -ENOMSG;
}

// read/write/close carry a placeholder request ("data", "fd"), not a decoded one.
bool shows_request(const vfio::CallRecord& c) {
  return !c.request.empty() && c.call != "read" && c.call != "write" && c.call != "close";
}

// The frontend announces a new v2 data fd in a note; the fd itself is only in
// the caller's struct, which observers do not see.
std::optional<int> new_data_fd(const vfio::CallRecord& c) {
  static const std::regex re("^a new (save|resume) data fd ([0-9]+)");
  for (const auto& n : c.notes) {
    std::smatch m;
    if (std::regex_search(n, m, re)) return std::stoi(m[2].str());
  }
  return std::nullopt;
}

}  // namespace

std::string format_abi_line(const AbiEvent& e) {
  const auto& c = e.call;
  std::string line;
  char t[40];
  std::snprintf(t, sizeof t, "%14.9f", e.t_s);
  line += t;
  line += ' ';
  line += e.host.empty() ? "-" : one_line(e.host);
  line += ' ';
  line += c.call.empty() ? "?" : c.call;
  line += '(' + fd_operand(c);
  if (shows_request(c)) line += ", " + one_line(c.request);
  if (!c.args.empty()) line += ", {" + one_line(c.args) + '}';
  line += ") = ";

  // The note that explains the errno ("EINVAL: why") goes in parentheses;
  // every other note is an annotation after '#'.
  std::optional<size_t> reason;
  if (c.ret < 0) {
    const std::string name = vfio::errno_name(static_cast<int>(-c.ret));
    line += "-1 " + name;
    for (size_t i = 0; i < c.notes.size(); ++i)
      if (starts_with(c.notes[i], name + ": ")) {
        reason = i;
        line += " (" + one_line(c.notes[i].substr(name.size() + 2)) + ')';
        break;
      }
  } else {
    line += std::to_string(c.ret);
  }

  if (c.path.size() > 2) {
    line += " [";
    for (size_t i = 0; i < c.path.size(); ++i) line += (i ? " -> " : "") + c.path[i];
    line += ']';
  } else if (c.state_before != c.state_after) {
    line += " [" + c.state_before + " -> " + c.state_after + ']';
  } else if (!c.state_before.empty()) {
    line += " [" + c.state_before + ']';
  }

  if (c.ret >= 0)
    if (const auto fd = new_data_fd(c)) line += " data_fd=" + std::to_string(*fd);

  bool first = true;
  for (size_t i = 0; i < c.notes.size(); ++i) {
    if (reason && *reason == i) continue;
    line += first ? "  # " : "; ";
    line += one_line(c.notes[i]);
    first = false;
  }
  return line;
}

void write_abi_trace(const RunLog& log, std::ostream& out) {
  for (const auto& e : log.abi) out << format_abi_line(e) << '\n';
}

// ------------------------------------------------------------------ timeline

namespace {

// Fixed process and thread ids, so the same run gives the same file and the
// tracks keep their order in the viewer.
constexpr int kSrcPid = 1, kDstPid = 2, kLinkPid = 3, kVmPid = 4, kOtherPid = 5;
constexpr int kMigrationTid = 1, kDeviceTid = 2, kAbiTid = 3, kFaultsTid = 4;
constexpr int kFirstExtraTid = 10;

// Microseconds, rounded to the nanosecond: readable numbers, and what
// Perfetto keeps anyway.
double us(double seconds) { return std::round(seconds * 1e9) / 1e3; }

class Timeline {
 public:
  Timeline() {
    process(kSrcPid, "src host");
    process(kDstPid, "dst host");
    process(kLinkPid, "link");
    process(kVmPid, "vm");
    for (int pid : {kSrcPid, kDstPid}) {
      thread(pid, kMigrationTid, "migration");
      thread(pid, kDeviceTid, "device state");
      thread(pid, kAbiTid, "abi");
    }
    thread(kDstPid, kFaultsTid, "faults");
    thread(kLinkPid, 1, "transfers");
    thread(kVmPid, 1, "vm");
  }

  // Where a SpanEvent track goes: "src migration" → (src host, migration), ...
  std::pair<int, int> track(const std::string& name) {
    if (name == "src migration") return {kSrcPid, kMigrationTid};
    if (name == "dst migration") return {kDstPid, kMigrationTid};
    if (name == "src device") return {kSrcPid, kDeviceTid};
    if (name == "dst device") return {kDstPid, kDeviceTid};
    if (name == "link") return {kLinkPid, 1};
    if (name == "vm") return {kVmPid, 1};
    if (starts_with(name, "src ")) return extra(kSrcPid, name.substr(4));
    if (starts_with(name, "dst ")) return extra(kDstPid, name.substr(4));
    if (!other_named_) {
      process(kOtherPid, "other");
      other_named_ = true;
    }
    return extra(kOtherPid, name);
  }

  int host_pid(const std::string& host) {
    if (host == "src") return kSrcPid;
    if (host == "dst") return kDstPid;
    return track(host + " abi").first;  // unknown host: its own thread under "other"
  }

  void add(nlohmann::ordered_json e) { events_.push_back(std::move(e)); }

  // Perfetto draws the slices of one thread as a stack: they must nest. A
  // slice that partially overlaps another of its thread (concurrent
  // post-copy faults) moves to the first extra lane of that thread where it
  // nests: threads "<name> 2", "<name> 3", ... kept next to the original.
  void nest_slices() {
    struct Slice {
      size_t event;
      double ts, end;
    };
    std::map<std::pair<int, int>, std::vector<Slice>> by_thread;
    for (size_t i = 0; i < events_.size(); ++i) {
      const auto& e = events_[i];
      if (e.at("ph") != "X") continue;
      const double ts = e.at("ts").get<double>();
      by_thread[{e.at("pid").get<int>(), e.at("tid").get<int>()}].push_back(
          {i, ts, ts + e.at("dur").get<double>()});
    }
    for (auto& [thread, slices] : by_thread) {
      // Outer slices first: by start, the longer one first at equal starts.
      std::stable_sort(slices.begin(), slices.end(), [](const Slice& a, const Slice& b) {
        return a.ts != b.ts ? a.ts < b.ts : a.end > b.end;
      });
      std::vector<std::vector<double>> lanes;  // per lane: the ends of the open slices
      for (const auto& sl : slices) {
        size_t lane = 0;
        for (;; ++lane) {
          if (lane == lanes.size()) lanes.emplace_back();
          auto& open = lanes[lane];
          while (!open.empty() && open.back() <= sl.ts) open.pop_back();
          if (open.empty() || sl.end <= open.back()) {
            open.push_back(sl.end);
            break;
          }
        }
        if (lane > 0) events_[sl.event]["tid"] = lane_tid(thread.first, thread.second, lane);
      }
    }
  }

  void write(std::ostream& out, const nlohmann::ordered_json& other) const {
    // One event per line: easy to diff and to grep, still one JSON document.
    out << "{\"traceEvents\":[\n";
    for (size_t i = 0; i < events_.size(); ++i)
      out << events_[i].dump() << (i + 1 < events_.size() ? ",\n" : "\n");
    out << "],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":" << other.dump() << "}\n";
  }

 private:
  void process(int pid, const std::string& name) {
    add({{"ph", "M"},
         {"name", "process_name"},
         {"pid", pid},
         {"tid", 0},
         {"args", {{"name", name}}}});
    add({{"ph", "M"},
         {"name", "process_sort_index"},
         {"pid", pid},
         {"tid", 0},
         {"args", {{"sort_index", pid}}}});
  }
  // Sort indexes leave room after each thread for its extra lanes.
  void thread(int pid, int tid, const std::string& name, int sort_index = -1) {
    thread_names_[{pid, tid}] = name;
    add({{"ph", "M"},
         {"name", "thread_name"},
         {"pid", pid},
         {"tid", tid},
         {"args", {{"name", name}}}});
    add({{"ph", "M"},
         {"name", "thread_sort_index"},
         {"pid", pid},
         {"tid", tid},
         {"args", {{"sort_index", sort_index >= 0 ? sort_index : tid * kLaneRoom}}}});
  }
  int lane_tid(int pid, int tid, size_t lane) {
    auto [it, fresh] = lanes_.try_emplace({pid, tid, lane}, 0);
    if (fresh) {
      it->second = kFirstLaneTid + next_lane_[pid]++;
      thread(pid, it->second, thread_names_[{pid, tid}] + " " + std::to_string(lane + 1),
             tid * kLaneRoom + static_cast<int>(lane));
    }
    return it->second;
  }
  std::pair<int, int> extra(int pid, const std::string& name) {
    auto [it, fresh] = extra_.try_emplace({pid, name}, 0);
    if (fresh) {
      it->second = kFirstExtraTid + next_extra_[pid]++;
      thread(pid, it->second, name);
    }
    return {pid, it->second};
  }

  static constexpr int kLaneRoom = 1000;
  static constexpr int kFirstLaneTid = 1000;
  std::vector<nlohmann::ordered_json> events_;
  std::map<std::pair<int, int>, std::string> thread_names_;
  std::map<std::tuple<int, int, size_t>, int> lanes_;
  std::map<int, int> next_lane_;
  std::map<std::pair<int, std::string>, int> extra_;
  std::map<int, int> next_extra_;
  bool other_named_ = false;
};

const char* span_category(int pid) {
  switch (pid) {
    case kSrcPid:
    case kDstPid:
      return "migration";
    case kLinkPid:
      return "link";
    case kVmPid:
      return "vm";
  }
  return "other";
}

nlohmann::ordered_json complete(const std::string& name, const char* cat, int pid, int tid,
                                double start_s, double end_s) {
  return {{"ph", "X"},
          {"name", name},
          {"cat", cat},
          {"pid", pid},
          {"tid", tid},
          {"ts", us(start_s)},
          {"dur", us(std::max(0.0, end_s - start_s))}};
}

nlohmann::ordered_json downtime_event(double start_s, double end_s) {
  auto e = complete("downtime", "downtime", kVmPid, 1, start_s, end_s);
  e["cname"] = "terrible";  // the trace viewers' red: the one span that matters most
  return e;
}

}  // namespace

void write_timeline(const RunLog& log, const Result& result, std::ostream& out) {
  Timeline tl;

  bool have_downtime = false;
  for (const auto& s : log.spans) {
    if (s.track == "vm" && s.name == "downtime") {
      tl.add(downtime_event(s.start_s, s.end_s));
      have_downtime = true;
      continue;
    }
    const auto [pid, tid] = tl.track(s.track);
    auto e = complete(s.name, span_category(pid), pid, tid, s.start_s, s.end_s);
    if (s.track == "src device" || s.track == "dst device") e["cat"] = "device";
    tl.add(std::move(e));
  }
  // A driver that recorded the switchover but no span still shows the downtime.
  if (!have_downtime && log.switchover_s >= 0 && result.downtime_s > 0)
    tl.add(downtime_event(log.switchover_s, log.switchover_s + result.downtime_s));
  if (log.switchover_s >= 0)
    tl.add({{"ph", "i"},
            {"name", "switchover"},
            {"cat", "vm"},
            {"s", "p"},
            {"pid", kVmPid},
            {"tid", 1},
            {"ts", us(log.switchover_s)}});

  for (const auto& c : log.counters) {
    const int pid = c.name == "faults"             ? kDstPid
                    : starts_with(c.name, "link ") ? kLinkPid
                                                   : kSrcPid;
    tl.add({{"ph", "C"},
            {"name", c.name},
            {"cat", "counter"},
            {"pid", pid},
            {"tid", 0},
            {"ts", us(c.t_s)},
            {"args", {{"value", c.value}}}});
  }

  for (const auto& f : log.faults) {
    auto e = complete(f.space + " page " + std::to_string(f.page), "fault", kDstPid, kFaultsTid,
                      f.t_s, f.t_s + f.stall_s);
    e["args"] = {{"space", f.space}, {"page", f.page}, {"stall_us", us(f.stall_s)}};
    tl.add(std::move(e));
  }

  // "Nothing now" (ENOMSG on a data fd read) is the normal answer of a
  // stream that is momentarily empty, not a failure; a post-copy source
  // answers it thousands of times. No instant per poll: a counter per host
  // of the polls so far, one sample per millisecond at most.
  std::map<std::string, uint64_t> polls;
  struct PollSample {
    int64_t bucket;  // the millisecond of the last poll
    double t_s;      // the last poll
    uint64_t shown;  // the count last drawn
  };
  std::map<std::string, PollSample> poll_sample;
  auto poll_counter = [&](const std::string& host, double t_s, uint64_t n) {
    poll_sample[host].shown = n;
    tl.add({{"ph", "C"},
            {"name", "nothing-now polls"},
            {"cat", "abi"},
            {"pid", tl.host_pid(host)},
            {"tid", 0},
            {"ts", us(t_s)},
            {"args", {{"value", n}}}});
  };
  for (const auto& a : log.abi) {
    const auto& c = a.call;
    if (is_nothing_now(c)) {
      const uint64_t n = ++polls[a.host];
      const auto bucket = static_cast<int64_t>(std::floor(a.t_s * 1e3));
      auto [it, fresh] = poll_sample.try_emplace(a.host, PollSample{bucket, a.t_s, 0});
      if (fresh || it->second.bucket != bucket) poll_counter(a.host, a.t_s, n);
      it->second.bucket = bucket;
      it->second.t_s = a.t_s;
      continue;
    }
    nlohmann::ordered_json args = {{"fd", c.fd}, {"fd_kind", c.fd_kind}};
    if (shows_request(c)) args["request"] = c.request;
    if (!c.args.empty()) args["args"] = c.args;
    args["ret"] = c.ret;
    if (c.ret < 0) args["errno"] = vfio::errno_name(static_cast<int>(-c.ret));
    args["state_before"] = c.state_before;
    args["state_after"] = c.state_after;
    if (!c.path.empty()) args["path"] = c.path;
    if (!c.notes.empty()) args["notes"] = c.notes;
    const int pid = tl.host_pid(a.host);
    tl.add({{"ph", "i"},
            {"name", shows_request(c) ? c.call + " " + c.request : c.call},
            {"cat", c.ret < 0 ? "abi,error" : "abi"},
            {"s", "t"},
            {"pid", pid},
            {"tid", pid == kSrcPid || pid == kDstPid ? kAbiTid : tl.track(a.host + " abi").second},
            {"ts", us(a.t_s)},
            {"args", std::move(args)}});
  }

  // The last count of each host, so the counter ends at the total.
  for (const auto& [host, sample] : poll_sample)
    if (sample.shown != polls[host]) poll_counter(host, sample.t_s, polls[host]);
  tl.nest_slices();

  nlohmann::ordered_json other = {
      {"schema", "mdevsim.timeline/1"},
      {"scenario", result.scenario},
      {"seed", result.seed},
      {"outcome", result.outcome},
      {"protocol", log.protocol},
      {"features", log.features},
      {"total_time_s", result.total_time_s},
      {"downtime_s", result.downtime_s},
      {"switchover_s", log.switchover_s},
  };
  if (!result.reason.empty()) other["reason"] = result.reason;
  if (!polls.empty()) other["nothing_now_polls"] = polls;
  tl.write(out, other);
}

// ------------------------------------------------------------- AbiRecorder

void AbiRecorder::on_call(const vfio::CallRecord& record) {
  record_at(record, sc_core::sc_time_stamp().to_seconds());
}

void AbiRecorder::record_at(const vfio::CallRecord& record, double t) {
  const bool first_for_host =
      std::none_of(log_.states.begin(), log_.states.end(),
                   [&](const RunLog::StateVisit& v) { return v.host == host_; });
  // The state the device was in when first seen, stamped with that time (the
  // recorder cannot know when it was entered).
  if (first_for_host && !record.state_before.empty())
    log_.states.push_back({t, host_, record.state_before});
  log_.abi.push_back({t, host_, record});

  if (record.state_after == record.state_before || record.state_after.empty()) return;
  // A multi-arc SET passes through interior states: each one was entered.
  std::vector<std::string> entered;
  if (record.path.size() >= 2 && record.path.front() == record.state_before)
    entered.assign(record.path.begin() + 1, record.path.end());
  if (entered.empty() || entered.back() != record.state_after)
    entered.push_back(record.state_after);
  for (auto& s : entered) log_.states.push_back({t, host_, std::move(s)});
}

}  // namespace mdevsim::sim
