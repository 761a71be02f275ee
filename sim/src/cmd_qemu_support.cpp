#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "mdevsim/sim/qemu_support.h"

namespace mdevsim::sim {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::string self_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

// Runs BINARY --version with `env` and returns its first line ("" on failure).
std::string version_line(const std::string& binary,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  const std::string out = make_temp_dir("mdevsim-qemu-version");
  ChildProcess p;
  try {
    p.start({binary, "--version"}, env, out + "/version.txt");
  } catch (const std::exception&) {
    remove_tree(out);
    return "";
  }
  const auto code = p.wait(std::chrono::seconds(20));
  if (!code) p.kill_now();
  std::string text = read_text(out + "/version.txt");
  remove_tree(out);
  if (!code || *code != 0) return "";
  return text.substr(0, text.find('\n'));
}

}  // namespace

QemuBinary find_qemu(const std::string& spec) {
  QemuBinary q;
  if (spec == "10.0" || spec.empty()) {
    const char* over = std::getenv("MDEVSIM_QEMU10");
    q.path = over && *over ? over : "/usr/bin/qemu-system-x86_64";
  } else if (spec == "7.2") {
    const char* over = std::getenv("MDEVSIM_QEMU72_DIR");
    const std::string root =
        over && *over ? std::string(over) : std::string(MDEVSIM_SOURCE_DIR) + "/.deps/qemu-7.2";
    q.path = root + "/usr/bin/qemu-system-x86_64";
    // 7.2 loads TCG as a module; its firmware is in the unpacked data packages.
    q.env.push_back({"QEMU_MODULE_DIR", root + "/usr/lib/x86_64-linux-gnu/qemu"});
    q.extra_args = {"-L", root + "/usr/share/qemu", "-L", root + "/usr/share/seabios"};
  } else {
    q.path = spec;
  }
  if (::access(q.path.c_str(), X_OK) != 0)
    throw InputError(
        "--qemu " + spec, "",
        q.path + " is not an executable (" +
            (spec == "10.0" || spec == "7.2" ? "run scripts/install-deps" : "give a QEMU binary") +
            ")");
  q.version_line = version_line(q.path, q.env);
  static const std::regex re(R"(version (\d+)\.(\d+)(\.\d+)?)");
  std::smatch m;
  if (!std::regex_search(q.version_line, m, re))
    throw InputError("--qemu " + spec, "",
                     q.path + " --version did not print a QEMU version ('" + q.version_line + "')");
  q.major = std::stoi(m[1]);
  q.minor = std::stoi(m[2]);
  q.version = m[1].str() + "." + m[2].str() + (m[3].matched ? m[3].str() : std::string(".0"));
  return q;
}

std::string find_interposer() {
  const char* over = std::getenv("MDEVSIM_VFIO_HOST_LIB");
  if (over && *over) return ::access(over, R_OK) == 0 ? over : "";
  std::vector<std::string> candidates;
  const std::string dir = self_dir();
  if (!dir.empty()) candidates.push_back(dir + "/vfio_host/libmdevsim-vfio-host.so");
#ifdef MDEVSIM_BUILD_DIR
  candidates.push_back(std::string(MDEVSIM_BUILD_DIR) + "/vfio_host/libmdevsim-vfio-host.so");
#endif
  for (const auto& c : candidates)
    if (::access(c.c_str(), R_OK) == 0) return fs::absolute(c).string();
  return "";
}

std::string make_fake_sysfs(const std::string& root, const std::string& name) {
  const std::string group = root + "/kernel/iommu_groups/" + std::to_string(kFakeIommuGroup);
  const std::string dev = root + "/devices/" + name;
  fs::create_directories(group);
  fs::create_directories(root + "/bus/mdev");
  fs::create_directories(dev);
  fs::create_symlink(group, dev + "/iommu_group");
  fs::create_symlink(root + "/bus/mdev", dev + "/subsystem");
  return dev;
}

std::string make_temp_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw std::runtime_error("cannot create a temporary directory " + templ + ": " +
                             std::strerror(errno));
  return buf.data();
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

ChildProcess::~ChildProcess() {
  if (running()) kill_now();
}

void ChildProcess::start(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::string& log_file) {
  int log_fd = -1;
  if (!log_file.empty()) {
    log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot write " + log_file);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // An exec failure is reported through a close-on-exec pipe.
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(err_pipe[0]);
    for (const auto& [k, v] : env) {
      if (v.empty())
        ::unsetenv(k.c_str());
      else
        ::setenv(k.c_str(), v.c_str(), 1);
    }
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::execvp(args[0], args.data());
    const int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  int e = 0;
  const ssize_t n = ::read(err_pipe[0], &e, sizeof e);
  ::close(err_pipe[0]);
  pid_ = pid;
  exit_code_ = -1;
  if (n == sizeof e) {
    wait(std::chrono::milliseconds(-1));
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(e));
  }
}

bool ChildProcess::running() {
  if (pid_ < 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  return false;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (timeout.count() < 0 && pid_ >= 0) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
  }
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

void ChildProcess::kill_now() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGKILL);
  wait(std::chrono::milliseconds(-1));
}

// --- scenarios --------------------------------------------------------------

namespace {

// (multifd_channels is a simulator key: load_scenario reads it.)
constexpr const char* kQemuKeys[] = {"switchover_ack", "dirty_tracking"};

void read_qemu_key(QemuMigrationKeys& k, const std::string& file, const std::string& key,
                   const nlohmann::json& v) {
  const std::string at = "/migration/" + key;
  if (key == "switchover_ack") {
    if (!v.is_boolean()) throw InputError(file, at, "must be true or false");
    k.switchover_ack = v.get<bool>();
  } else {
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    if (s == "dma_logging")
      k.dirty_tracking = DirtyTracking::kDmaLogging;
    else if (s == "type1")
      k.dirty_tracking = DirtyTracking::kType1;
    else if (s == "none")
      k.dirty_tracking = DirtyTracking::kNone;
    else
      throw InputError(file, at, "must be \"dma_logging\", \"type1\" or \"none\"");
  }
}

// The --set value as load_scenario reads it: JSON when it parses, else a string.
nlohmann::json set_value(const std::string& v) {
  try {
    return nlohmann::json::parse(v);
  } catch (const nlohmann::json::exception&) {
    return v;
  }
}

}  // namespace

QemuScenario load_qemu_scenario(const std::string& path, const std::vector<std::string>& sets) {
  QemuScenario q;
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(read_text(path), nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception&) {
    q.scenario = load_scenario(path, sets);  // throws its own, precise message
  }
  std::vector<std::string> others;
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    bool mine = false;
    for (const char* key : kQemuKeys)
      if (eq != std::string::npos && s.substr(0, eq) == std::string("migration.") + key) {
        if (!root.contains("migration") || !root["migration"].is_object())
          root["migration"] = nlohmann::json::object();
        root["migration"][key] = set_value(s.substr(eq + 1));
        mine = true;
      }
    if (!mine) others.push_back(s);
  }
  bool had_keys = false;
  if (root.is_object() && root.contains("migration") && root["migration"].is_object()) {
    for (const char* key : kQemuKeys) {
      if (!root["migration"].contains(key)) continue;
      read_qemu_key(q.keys, path, key, root["migration"][key]);
      root["migration"].erase(key);
      had_keys = true;
    }
  }
  if (!had_keys) {
    q.scenario = load_scenario(path, others);
  } else {
    // load_scenario checks everything else on a copy without the QEMU keys
    // (in the original's folder, so relative paths in it still resolve); its
    // messages name the original file.
    const fs::path orig(path);
    std::string hidden = orig.filename().string();
    hidden.insert(0, 1, '.').append(".qemu-").append(std::to_string(::getpid())).append(".json");
    const std::string copy = (orig.parent_path() / hidden).string();
    {
      std::ofstream out(copy);
      out << root.dump(2);
      if (!out) throw InputError(path, "", "cannot write a checked copy next to it (" + copy + ")");
    }
    try {
      q.scenario = load_scenario(copy, others);
    } catch (const InputError& e) {
      ::unlink(copy.c_str());
      auto named = [&](std::string text) {
        for (size_t at; (at = text.find(copy)) != std::string::npos;)
          text.replace(at, copy.size(), path);
        return text;
      };
      throw InputError(named(e.file()), e.json_path(), named(e.reason()));
    }
    ::unlink(copy.c_str());
  }
  q.scenario.file = path;
  if (!root.contains("name")) q.scenario.name = fs::path(path).stem().string();
  // The applied document for the interposer: --set values written in.
  for (const auto& s : others) {
    const auto eq = s.find('=');
    nlohmann::json* node = &root;
    std::stringstream ss(s.substr(0, eq));
    std::string part;
    std::vector<std::string> parts;
    while (std::getline(ss, part, '.')) parts.push_back(part);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (node->is_array())
        node = &(*node)[std::stoul(parts[i])];
      else
        node = &(*node)[parts[i]];
    }
    *node = set_value(s.substr(eq + 1));
  }
  q.keys.multifd_channels = q.scenario.migration.multifd_channels;
  // The interposer serves devices; the channels are QEMU's business.
  if (root.contains("migration") && root["migration"].is_object())
    root["migration"].erase("multifd_channels");
  q.applied = std::move(root);
  return q;
}

// --- interposer report and traces -----------------------------------------

std::optional<HostDeviceReport> read_host_report(const std::string& path, std::string* why) {
  if (::access(path.c_str(), R_OK) != 0) {
    if (why) *why = "the interposer wrote no report (" + path + ")";
    return std::nullopt;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    if (why) *why = "the interposer's report " + path + " is not JSON: " + e.what();
    return std::nullopt;
  }
  if (!j.contains("devices") || !j["devices"].is_array() || j["devices"].empty()) {
    if (why) *why = "the interposer's report lists no device (QEMU never opened it?)";
    return std::nullopt;
  }
  const auto& d = j["devices"][0];
  HostDeviceReport r;
  r.raw = d;
  r.name = d.value("name", "");
  r.protocol = d.value("protocol", "");
  r.state = d.value("state", "");
  auto opt_str = [&](const char* k) -> std::optional<std::string> {
    if (d.contains(k) && d[k].is_string()) return d[k].get<std::string>();
    return std::nullopt;
  };
  r.digest_at_save_end = opt_str("digest_at_save_end");
  r.digest_after_resume = opt_str("digest_after_resume");
  auto pages = [&](const char* k, std::vector<std::pair<uint64_t, std::string>>& out) {
    if (!d.contains(k) || !d[k].is_array()) return;
    for (const auto& p : d[k]) {
      uint64_t iova = 0;
      if (p["iova"].is_string())
        iova = std::stoull(p["iova"].get<std::string>(), nullptr, 0);
      else
        iova = p["iova"].get<uint64_t>();
      out.push_back(
          {iova, p["hash"].is_string() ? p["hash"].get<std::string>() : p["hash"].dump()});
    }
  };
  pages("dma_pages", r.dma_pages);
  pages("ram_hashes_at_resume", r.ram_hashes_at_resume);
  r.dma_bytes_written = d.value("dma_bytes_written", uint64_t{0});
  r.calls = d.value("calls", nlohmann::json::object());
  r.errors = d.value("errors", nlohmann::json::object());
  // Arcs as "FROM -> TO"; a list of states walked is turned into its arcs.
  if (d.contains("arcs") && d["arcs"].is_array()) {
    std::vector<std::string> states;
    for (const auto& a : d["arcs"]) {
      if (a.is_array() && a.size() == 2) {
        r.arcs.push_back(a[0].get<std::string>() + " -> " + a[1].get<std::string>());
      } else if (a.is_object()) {
        r.arcs.push_back(a.value("from", "") + " -> " + a.value("to", ""));
      } else if (a.is_string() && a.get<std::string>().find("->") != std::string::npos) {
        std::string s = a.get<std::string>();
        const auto p = s.find("->");
        auto trim = [](std::string x) {
          x.erase(0, x.find_first_not_of(' '));
          x.erase(x.find_last_not_of(' ') + 1);
          return x;
        };
        r.arcs.push_back(trim(s.substr(0, p)) + " -> " + trim(s.substr(p + 2)));
      } else if (a.is_string()) {
        states.push_back(a.get<std::string>());
      }
    }
    for (size_t i = 1; i < states.size(); ++i) r.arcs.push_back(states[i - 1] + " -> " + states[i]);
  }
  return r;
}

bool merge_traces(const std::string& src, const std::string& dst, const std::string& out) {
  struct Line {
    double t;
    size_t order;
    std::string text;
  };
  std::vector<Line> lines;
  auto take = [&](const std::string& file, const char* host) {
    std::ifstream in(file);
    std::string l;
    while (std::getline(in, l)) {
      std::istringstream ss(l);
      double t = 0;
      std::string old_host;
      if (!(ss >> t >> old_host)) continue;
      // Keep the time column as written; replace the HOST column.
      const auto t_end = l.find_first_not_of(' ');
      const auto host_at = l.find(' ', t_end);
      const auto rest = l.find(' ', host_at + 1);
      lines.push_back(
          {t, lines.size(),
           l.substr(0, host_at + 1) + host + (rest == std::string::npos ? "" : l.substr(rest))});
    }
  };
  take(src, "src");
  take(dst, "dst");
  std::stable_sort(lines.begin(), lines.end(),
                   [](const Line& a, const Line& b) { return a.t < b.t; });
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  for (const auto& l : lines) o << l.text << "\n";
  return static_cast<bool>(o.flush());
}

}  // namespace mdevsim::sim
