// mdevsim sweep SCENARIO --vary PATH=V1,V2,... [--vary ...] [--jobs N] [--out DIR]
//
// Every point of the cross product runs as its own `mdevsim run` child (the
// SystemC kernel elaborates once per process), at most --jobs at a time.
// Each finished point is appended to results.jsonl at once, so an
// interrupted sweep loses only the points in flight and resumes from there.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/commands.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/sim/sweep_report.h"

namespace mdevsim::sim {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* kSweepHelp =
    R"(Usage: mdevsim sweep SCENARIO --vary PATH=V1,V2,... [--vary ...] [options]

Runs SCENARIO once for every combination of the --vary values. Each point is
its own `mdevsim run` process; --jobs of them run at once. Every point's
overrides are validated before anything runs. Results go to a CSV table, a
JSON-lines file with each point's full result, and a self-contained HTML
report with charts (docs/sweep.md describes every column).

Options:
  --vary PATH=V1,V2,...  a scenario value to vary, with the dotted PATH of
                         --set; repeat it for a cross product (the first
                         --vary varies slowest). Values are split at commas
                         outside [] {} and "", so JSON lists work too.
  --set PATH=VALUE       override a value for every point (as in mdevsim run)
  --jobs N               points run at once (default: the online CPUs)
  --out DIR              output directory (default: sweep-<scenario name>)
  --fresh                discard what DIR holds and start the sweep over
  --help                 this text

Files in DIR:
  results.csv    one row per point: its parameters, outcome, converged,
                 iterations, downtime_s, total_time_s, bytes, verification
  results.jsonl  one line per point: {"point", "params", "exit_code",
                 "result" (the mdevsim run result JSON), "error"}
  report.html    charts of downtime, total time and bytes sent against each
                 varied parameter, and the table of all points
  sweep.json     the sweep's definition, checked when resuming

Resuming: run the same command again after Ctrl-C, a kill or a crash; the
points already in results.jsonl are kept and only the others run. A
different sweep (scenario, --set or --vary) in the same DIR is refused
unless --fresh is given.

Examples:
  mdevsim sweep scenarios/quickstart.json --vary link.bandwidth=10Gbit/s,25Gbit/s,100Gbit/s
  mdevsim sweep scenarios/quickstart.json --vary link.bandwidth=10Gbit/s,25Gbit/s \
      --vary migration.downtime_limit=100ms,300ms,1s --out bw-vs-limit
  mdevsim sweep scenarios/write-heavy-noconverge.json --set migration.auto_converge=true \
      --vary migration.on_no_convergence=cancel,force --vary seed=1,2,3 --jobs 2

Exit codes: 0 every point ran (a cancelled or failed migration is a result);
1 some point crashed or exited 2 (its "error" in results.jsonl says why);
2 bad input; 130 interrupted (what finished is kept; rerun to resume).
)";

// Bad input: reported as "mdevsim sweep: ..." with exit code 2.
struct UsageError {
  std::string message;
};

struct SweepOptions {
  std::string scenario_path;
  std::vector<std::string> overrides;  // --set, for every point
  std::vector<SweepAxis> axes;         // --vary, in order
  unsigned jobs = 0;
  std::string out_dir;
  bool fresh = false;
};

// "PATH=V1,V2" → axis; commas inside brackets, braces or quotes do not split.
SweepAxis parse_vary(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError{"--vary " + text +
                     ": expected PATH=V1,V2,..., e.g. --vary link.bandwidth=10Gbit/s,25Gbit/s"};
  SweepAxis axis{text.substr(0, eq), {}};
  std::string current;
  int depth = 0;
  bool quoted = false;
  for (char c : text.substr(eq + 1) + ",") {
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '[' || c == '{')) ++depth;
    if (!quoted && (c == ']' || c == '}')) --depth;
    if (c == ',' && depth == 0 && !quoted) {
      if (current.empty())
        throw UsageError{"--vary " + text + ": empty value (two commas, or a comma at an end)"};
      if (std::find(axis.values.begin(), axis.values.end(), current) != axis.values.end())
        throw UsageError{"--vary " + axis.path + ": value '" + current + "' is listed twice"};
      axis.values.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return axis;
}

unsigned parse_jobs(const std::string& text) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > 1024)
    throw UsageError{"--jobs " + text + ": expected a whole number from 1 to 1024"};
  return n;
}

std::string override_path(const std::string& set) { return set.substr(0, set.find('=')); }

SweepOptions parse_options(int argc, char** argv, bool& help) {
  SweepOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError{a + " needs a value (see mdevsim sweep --help)"};
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      help = true;
      return o;
    } else if (a == "--vary") {
      o.axes.push_back(parse_vary(value()));
    } else if (a == "--set") {
      o.overrides.push_back(value());
    } else if (a == "--jobs" || a == "-j") {
      o.jobs = parse_jobs(value());
    } else if (a == "--out") {
      o.out_dir = value();
      if (o.out_dir.empty()) throw UsageError{"--out needs a directory name"};
    } else if (a == "--fresh") {
      o.fresh = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError{"unknown option '" + a + "' (see mdevsim sweep --help)"};
    } else if (o.scenario_path.empty()) {
      o.scenario_path = a;
    } else {
      throw UsageError{"only one SCENARIO may be given (got '" + o.scenario_path + "' and '" + a +
                       "')"};
    }
  }
  if (o.scenario_path.empty()) throw UsageError{"missing SCENARIO (see mdevsim sweep --help)"};
  if (o.axes.empty())
    throw UsageError{
        "nothing to vary: give at least one --vary PATH=V1,V2,... "
        "(see mdevsim sweep --help)"};
  std::set<std::string> seen;
  for (const auto& axis : o.axes)
    if (!seen.insert(axis.path).second)
      throw UsageError{"--vary " + axis.path +
                       " is given twice; list all its values in one --vary"};
  for (const auto& set : o.overrides)
    if (seen.count(override_path(set)))
      throw UsageError{override_path(set) + " is both --set and --vary; keep one of them"};
  if (o.jobs == 0) o.jobs = static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return o;
}

// The --set list of one point: the sweep's --set first, then its --vary values.
std::vector<std::string> point_overrides(const SweepOptions& o, size_t point) {
  std::vector<std::string> sets = o.overrides;
  const auto c = sweep_coordinates(o.axes, point);
  for (size_t k = 0; k < o.axes.size(); ++k)
    sets.push_back(o.axes[k].path + "=" + o.axes[k].values[c[k]]);
  return sets;
}

ojson point_params(const SweepOptions& o, size_t point) {
  ojson params = ojson::object();
  const auto c = sweep_coordinates(o.axes, point);
  for (size_t k = 0; k < o.axes.size(); ++k) params[o.axes[k].path] = o.axes[k].values[c[k]];
  return params;
}

// Loads every point in-process so a bad value fails before any child runs.
// Returns the scenario name (of point 0) for the default output directory.
std::string validate_points(const SweepOptions& o, size_t points) {
  std::string name;
  for (size_t p = 0; p < points; ++p) {
    try {
      const Scenario s = load_scenario(o.scenario_path, point_overrides(o, p));
      if (p == 0) name = s.name;
    } catch (const InputError& e) {
      // load_scenario names the --set that introduced the problem; say which --vary it is.
      const std::string what = e.what();
      const auto c = sweep_coordinates(o.axes, p);
      for (size_t k = 0; k < o.axes.size(); ++k) {
        const std::string set = "--set " + o.axes[k].path + "=" + o.axes[k].values[c[k]];
        if (what.find(set) != std::string::npos)
          throw UsageError{"--vary " + o.axes[k].path + ": value '" + o.axes[k].values[c[k]] +
                           "' is refused (point " + std::to_string(p) + "): " + what};
      }
      std::string params;
      const ojson point = point_params(o, p);  // items() must not outlive it
      for (const auto& [k, v] : point.items())
        params += (params.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
      throw UsageError{
          (p == 0 ? what : what + " (point " + std::to_string(p) + ": " + params + ")")};
    }
  }
  return name;
}

// 64-bit FNV-1a of the scenario file, so a resume notices an edited scenario.
std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t h = 1469598103934665603ull;
  char c;
  while (in.get(c)) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ojson sweep_definition(const SweepOptions& o) {
  ojson vary = ojson::array();
  for (const auto& a : o.axes) vary.push_back({{"path", a.path}, {"values", a.values}});
  return {{"schema", "mdevsim.sweep/1"},
          {"scenario", fs::absolute(o.scenario_path).lexically_normal().string()},
          {"scenario_content", file_fingerprint(o.scenario_path)},
          {"set", o.overrides},
          {"vary", vary}};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// Writes beside the target and renames, so readers never see half a file.
void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!(out << text) || !out.flush())
      throw UsageError{"cannot write " + tmp.string() + ": " + std::strerror(errno)};
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw UsageError{"cannot write " + path.string() + ": " + ec.message()};
}

// "--vary a=1,2 --vary b=x,y" as a definition's vary list reads on a command line.
std::string vary_text(const ojson& vary) {
  std::string text;
  for (const auto& axis : vary.is_array() ? vary : ojson::array()) {
    text += (text.empty() ? "--vary " : " --vary ") + axis.value("path", std::string("?")) + "=";
    std::string values;
    for (const auto& v : axis.value("values", ojson::array()))
      values += (values.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
    text += values;
  }
  return text.size() > 160 ? text.substr(0, 157) + "..." : text;
}

// What differs between the stored definition and this command's.
std::string definition_difference(const ojson& stored, const ojson& wanted) {
  if (!stored.is_object()) return "its sweep.json is missing or unreadable";
  std::vector<std::string> what;
  if (stored.value("scenario", "") != wanted["scenario"])
    what.push_back("scenario " + stored.value("scenario", std::string("?")) + ", not " +
                   wanted["scenario"].get<std::string>());
  else if (stored.value("scenario_content", "") != wanted["scenario_content"])
    what.push_back("the scenario file has changed since");
  if (stored.value("set", ojson::array()) != wanted["set"])
    what.push_back("--set " + stored.value("set", ojson::array()).dump() + ", not " +
                   wanted["set"].dump());
  if (stored.value("vary", ojson::array()) != wanted["vary"])
    what.push_back(vary_text(stored.value("vary", ojson::array())) + ", not " +
                   vary_text(wanted["vary"]));
  std::string text;
  for (const auto& w : what) text += (text.empty() ? "" : "; ") + w;
  return text.empty() ? "its sweep.json differs" : text;
}

std::string jsonl_of(const std::map<size_t, ojson>& records) {
  std::string text;
  for (const auto& [point, line] : records) text += line.dump() + "\n";
  return text;
}

// Earlier results of this sweep: lines that parse and match their point's
// params. A line cut short by a kill is dropped (that point runs again).
std::map<size_t, ojson> load_records(const fs::path& jsonl, const SweepOptions& o, size_t points,
                                     size_t& dropped) {
  std::map<size_t, ojson> records;
  std::ifstream in(jsonl);
  std::string text;
  while (std::getline(in, text)) {
    if (text.empty()) continue;
    const ojson line = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool ok = line.is_object() && line.contains("point") &&
                    line["point"].is_number_unsigned() && line["point"].get<size_t>() < points &&
                    line.value("params", ojson()) == point_params(o, line["point"].get<size_t>());
    if (!ok || !records.emplace(line["point"].get<size_t>(), line).second) ++dropped;
  }
  return records;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=,:@+%") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string tail(const std::string& text, size_t max_chars) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

std::string format_eta(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) / 60 % 60);
  return buf;
}

struct Child {
  pid_t pid = -1;
  size_t point = 0;
  fs::path json, out, err;
};

// fork + exec of this very binary as `mdevsim run`, stdout/stderr to files.
// The child drops the parent's signal mask and dies with the parent, so a
// killed sweep leaves no orphans behind.
pid_t spawn_run(const std::vector<std::string>& args, const Child& c, const sigset_t& child_mask) {
  const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = open(c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = open(c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = -1;
  if (in >= 0 && out >= 0 && err >= 0) pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigprocmask(SIG_SETMASK, &child_mask, nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  for (int fd : {in, out, err})
    if (fd >= 0) close(fd);
  return pid;
}

class Progress {
 public:
  Progress(size_t total, size_t already_done)
      : enabled_(isatty(2)),
        total_(total),
        done_(already_done),
        start_(std::chrono::steady_clock::now()) {}
  void finished_one() {
    ++done_;
    ++done_now_;
  }
  void draw(size_t running) const {
    if (!enabled_) return;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const size_t width = std::to_string(total_).size();
    std::string eta = "?";
    if (done_now_ > 0) eta = format_eta(elapsed / done_now_ * (total_ - done_));
    std::fprintf(stderr, "\r[%*zu/%zu] %3zu%% %zu running, eta %s\033[K", static_cast<int>(width),
                 done_, total_, total_ ? done_ * 100 / total_ : 100, running, eta.c_str());
    std::fflush(stderr);
  }
  void clear() const {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  bool enabled_;
  size_t total_, done_, done_now_ = 0;
  std::chrono::steady_clock::time_point start_;
};

int sweep(int argc, char** argv) {
  bool help = false;
  SweepOptions o = parse_options(argc, argv, help);
  if (help) {
    std::cout << kSweepHelp;
    return 0;
  }
  const size_t points = sweep_point_count(o.axes);
  if (points > 1'000'000)
    throw UsageError{std::to_string(points) +
                     " points is too many for one sweep (at most 1000000)"};
  const std::string name = validate_points(o, points);

  if (o.out_dir.empty()) {
    std::string safe = name;
    for (char& ch : safe)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.')
        ch = '-';
    o.out_dir = "sweep-" + safe;
  }
  const fs::path dir = o.out_dir, jsonl = dir / "results.jsonl",
                 definition_file = dir / "sweep.json", scratch = dir / ".points";
  const ojson definition = sweep_definition(o);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UsageError{"cannot create " + dir.string() + ": " + ec.message()};
  // One sweep at a time per directory; the lock goes when this process does.
  const int lock = open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0)
    throw UsageError{"another mdevsim sweep is writing to " + dir.string() +
                     "; wait for it, or use --out"};
  if (o.fresh)
    for (const char* f : {"results.jsonl", "results.csv", "report.html", "sweep.json"})
      fs::remove(dir / f, ec);
  if (fs::exists(jsonl) || fs::exists(definition_file)) {
    const ojson stored = ojson::parse(read_file(definition_file), nullptr, false);
    if (stored != definition)
      throw UsageError{o.out_dir + " holds a different sweep (" +
                       definition_difference(stored, definition) +
                       "); use --fresh to discard its results, or --out another directory"};
  }
  fs::remove_all(scratch, ec);  // leftovers of points a kill cut short
  fs::create_directories(scratch, ec);
  if (ec) throw UsageError{"cannot create " + scratch.string() + ": " + ec.message()};
  write_file_atomically(definition_file, definition.dump(2) + "\n");

  size_t dropped = 0;
  std::map<size_t, ojson> records = load_records(jsonl, o, points, dropped);
  const size_t already_recorded = records.size();
  if (dropped > 0)
    std::cerr << "mdevsim sweep: ignoring " << dropped
              << " unreadable line(s) of results.jsonl (those points run again)\n";
  // Start from a clean file so appends never follow a half-written line.
  write_file_atomically(jsonl, jsonl_of(records));
  std::ofstream append(jsonl, std::ios::app);

  std::vector<size_t> todo;
  for (size_t p = 0; p < points; ++p)
    if (!records.count(p)) todo.push_back(p);

  // Signals arrive through sigtimedwait below, never in the middle of a write.
  sigset_t waited, child_mask;
  sigemptyset(&waited);
  for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&waited, s);
  sigprocmask(SIG_BLOCK, &waited, &child_mask);

  Progress progress(points, already_recorded);
  std::vector<Child> running;
  size_t next = 0, ran_now = 0;
  int stop_signal = 0;         // SIGINT or SIGTERM received: launch nothing more
  bool launch_failed = false;  // fork failed: finish what runs, then report
  std::chrono::steady_clock::time_point kill_deadline;

  // Takes SIGINT/SIGTERM (waiting up to `timeout` for any signal, SIGCHLD
  // included). The first asks the children to stop; a second one, or 3 s,
  // kills them.
  auto take_signals = [&](timespec timeout) {
    for (int sig; (sig = sigtimedwait(&waited, nullptr, &timeout)) > 0; timeout = {0, 0}) {
      if (sig == SIGCHLD) continue;
      const bool again = stop_signal != 0;
      if (!again) {
        stop_signal = sig;
        kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
      }
      for (const auto& c : running) kill(c.pid, again ? SIGKILL : SIGTERM);
    }
  };

  while (true) {
    take_signals({0, 0});
    while (!stop_signal && !launch_failed && running.size() < o.jobs && next < todo.size()) {
      Child c;
      c.point = todo[next];
      const std::string stem = "point-" + std::to_string(c.point);
      c.json = scratch / (stem + ".json");
      c.out = scratch / (stem + ".out");
      c.err = scratch / (stem + ".err");
      fs::remove(c.json, ec);
      std::vector<std::string> args = {"mdevsim", "run", o.scenario_path};
      for (const auto& set : point_overrides(o, c.point)) {
        args.push_back("--set");
        args.push_back(set);
      }
      args.push_back("--json");
      args.push_back(c.json.string());
      c.pid = spawn_run(args, c, child_mask);
      if (c.pid < 0) {
        progress.clear();
        std::cerr << "mdevsim sweep: cannot start point " << c.point << ": " << std::strerror(errno)
                  << "\n";
        launch_failed = true;
        break;
      }
      ++next;
      running.push_back(c);
    }
    if (running.empty()) break;

    bool reaped = false;
    int status = 0;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
      const auto it = std::find_if(running.begin(), running.end(),
                                   [&](const Child& c) { return c.pid == pid; });
      if (it == running.end()) continue;
      const Child c = *it;
      running.erase(it);
      reaped = true;
      const bool signalled = WIFSIGNALED(status);
      const int sig = signalled ? WTERMSIG(status) : 0;
      // A child stopped by Ctrl-C or by us is not a result: it runs again on resume.
      if (!(signalled && (stop_signal || sig == SIGINT || sig == SIGTERM))) {
        ojson line;
        line["point"] = c.point;
        line["params"] = point_params(o, c.point);
        line["exit_code"] = signalled ? 128 + sig : WEXITSTATUS(status);
        const ojson result = ojson::parse(read_file(c.json), nullptr, false);
        const bool has_result = !signalled && result.is_object();
        line["result"] = has_result ? result : ojson(nullptr);
        std::string err = tail(read_file(c.err), 2000);
        if (signalled)
          err += "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
        line["error"] = has_result ? ojson(nullptr) : ojson(err);
        append << line.dump() << '\n' << std::flush;
        records[c.point] = line;
        ++ran_now;
        progress.finished_one();
      }
      for (const auto& f : {c.json, c.out, c.err}) fs::remove(f, ec);
    }
    if (reaped) continue;

    if (stop_signal && std::chrono::steady_clock::now() > kill_deadline)
      for (const auto& c : running) kill(c.pid, SIGKILL);
    progress.draw(running.size());
    take_signals({0, 200'000'000});
  }
  sigprocmask(SIG_SETMASK, &child_mask, nullptr);
  progress.clear();
  append.close();
  fs::remove(scratch, ec);  // only when empty

  // The final files are sorted by point, whatever order the points finished in.
  std::vector<ojson> lines;
  for (const auto& [point, line] : records) lines.push_back(line);
  write_file_atomically(jsonl, jsonl_of(records));
  write_file_atomically(dir / "results.csv", sweep_csv(o.axes, lines));
  write_file_atomically(dir / "report.html", sweep_html(name, o.scenario_path, o.axes, lines));

  std::map<std::string, size_t> outcomes;
  size_t broken = 0;
  for (const auto& line : lines) {
    const auto& r = line["result"];
    ++outcomes[r.is_object() ? r.value("outcome", std::string("?")) : "error"];
    const int code = line.value("exit_code", -1);
    if (!r.is_object() || (code != 0 && code != 1)) ++broken;
  }
  std::cout << "sweep      " << name << ": " << points << " points (";
  for (size_t k = 0; k < o.axes.size(); ++k)
    std::cout << (k ? " x " : "") << o.axes[k].path << " " << o.axes[k].values.size();
  std::cout << "), " << o.jobs << (o.jobs == 1 ? " job" : " jobs") << "\n";
  std::cout << "ran        " << ran_now << " now, " << already_recorded << " already recorded, "
            << points - records.size() << " not run\n";
  std::cout << "outcomes  ";
  for (const char* known : {"completed", "cancelled", "failed"})
    std::cout << " " << outcomes[known] << " " << known << ",";
  for (const auto& [o_name, n] : outcomes)
    if (o_name != "completed" && o_name != "cancelled" && o_name != "failed" && o_name != "error")
      std::cout << " " << n << " " << o_name << ",";
  std::cout << " " << broken << " crashed or bad input\n";
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.1f s", progress.elapsed_s());
  std::cout << "time       " << wall << "\n";
  std::cout << "files      " << (dir / "results.csv").string() << ", "
            << (dir / "results.jsonl").string() << ", " << (dir / "report.html").string() << "\n";
  if (broken > 0)
    std::cout << "note       " << broken
              << " point(s) have no result; see \"error\" in results.jsonl\n";
  if (stop_signal || records.size() < points) {
    std::string command = "mdevsim";
    for (int i = 0; i < argc; ++i)
      if (std::string(argv[i]) != "--fresh") command += " " + shell_quote(argv[i]);
    std::cerr << "mdevsim sweep: " << (stop_signal ? "interrupted" : "incomplete") << " with "
              << records.size() << " of " << points
              << " points recorded; to run the rest, run again:\n  " << command << "\n";
  }
  if (stop_signal) return 128 + stop_signal;
  return broken > 0 || records.size() < points ? 1 : 0;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  try {
    return sweep(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "mdevsim sweep: " << e.message << "\n";
    return 2;
  }
}

}  // namespace mdevsim::sim
