#include "mdevsim/sweep/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>

#include "mdevsim/sweep/report.h"

namespace mdevsim::sweep {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

void write_atomically(const fs::path& path, const std::string& text) {
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

namespace {

std::string tail(const std::string& text, size_t max_chars) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

std::string jsonl_of(const std::map<size_t, ojson>& records) {
  std::string text;
  for (const auto& [point, line] : records) text += line.dump() + "\n";
  return text;
}

}  // namespace

ojson make_record(const Plan& plan, size_t point, int exit_code, int signal,
                  const std::string& result_text, const std::string& stderr_text) {
  ojson line;
  line["point"] = point;
  line["params"] = plan.point_params(point);
  line["exit_code"] = signal ? 128 + signal : exit_code;
  const ojson result = ojson::parse(result_text, nullptr, false);
  const bool has_result = !signal && result.is_object();
  line["result"] = has_result ? result : ojson(nullptr);
  std::string err = tail(stderr_text, 2000);
  if (signal) err += "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  line["error"] = has_result ? ojson(nullptr) : ojson(err);
  return line;
}

PointFiles point_files(const fs::path& dir, size_t point) {
  const std::string stem = "point-" + std::to_string(point);
  return {dir / (stem + ".json"), dir / (stem + ".err"), dir / (stem + ".exit")};
}

std::optional<ojson> read_point_files(const Plan& plan, const fs::path& dir, size_t point) {
  const PointFiles f = point_files(dir, point);
  const std::string status = read_text(f.exit);
  if (status.empty()) return std::nullopt;
  int code = -1;
  try {
    code = std::stoi(status);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  // The shell reports a child killed by signal N as 128+N (mdevsim run exits 0, 1 or 2).
  const int signal = code > 128 ? code - 128 : 0;
  if (signal == SIGINT || signal == SIGTERM || signal == SIGKILL) return std::nullopt;
  return make_record(plan, point, code, signal, read_text(f.json), read_text(f.err));
}

Store::Store(fs::path dir, const Plan& plan) : dir_(std::move(dir)), plan_(plan) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw UsageError{"cannot create " + dir_.string() + ": " + ec.message()};
  // One sweep at a time per directory; the lock goes when this process does.
  lock_fd_ = ::open((dir_ / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    throw UsageError{"another mdevsim sweep is writing to " + dir_.string() +
                     "; wait for it, or use --out"};
}

Store::~Store() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

size_t Store::open(bool fresh) {
  const fs::path jsonl = dir_ / "results.jsonl", definition_file = dir_ / "sweep.json";
  const ojson definition = definition_of(plan_);
  std::error_code ec;
  if (fresh) {
    for (const char* f : {"results.jsonl", "results.csv", "report.html", "sweep.json"})
      fs::remove(dir_ / f, ec);
    fs::remove_all(points_dir(), ec);
  }
  if (fs::exists(jsonl) || fs::exists(definition_file)) {
    const ojson stored = ojson::parse(read_text(definition_file), nullptr, false);
    if (stored != definition)
      throw UsageError{dir_.string() + " holds a different sweep (" +
                       definition_difference(stored, definition) +
                       "); use --fresh to discard its results, or --out another directory"};
  }
  write_atomically(definition_file, definition.dump(2) + "\n");

  // Earlier results: lines that parse and match their point's params. A line
  // cut short by a kill is dropped (that point runs again).
  size_t dropped = 0;
  std::ifstream in(jsonl);
  for (std::string text; std::getline(in, text);) {
    if (text.empty()) continue;
    const ojson line = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool ok =
        line.is_object() && line.contains("point") && line["point"].is_number_unsigned() &&
        line["point"].get<size_t>() < plan_.points() &&
        line.value("params", ojson()) == plan_.point_params(line["point"].get<size_t>());
    if (!ok || !records_.emplace(line["point"].get<size_t>(), line).second) ++dropped;
  }
  in.close();
  // Start from a clean file so appends never follow a half-written line.
  write_atomically(jsonl, jsonl_of(records_));
  append_.open(jsonl, std::ios::app);
  return dropped;
}

std::vector<size_t> Store::missing() const {
  std::vector<size_t> todo;
  for (size_t p = 0; p < plan_.points(); ++p)
    if (!has(p)) todo.push_back(p);
  return todo;
}

void Store::add(const ojson& record) {
  records_[record["point"].get<size_t>()] = record;
  append_ << record.dump() << '\n' << std::flush;
}

size_t Store::collect_point_files(const fs::path& dir) {
  size_t added = 0;
  for (size_t p : missing())
    if (auto record = read_point_files(plan_, dir, p)) {
      add(*record);
      ++added;
    }
  return added;
}

std::vector<ojson> Store::lines() const {
  std::vector<ojson> lines;
  for (const auto& [point, line] : records_) lines.push_back(line);
  return lines;
}

void Store::write_outputs(const Validated& scenario) {
  append_.close();
  const auto sorted = lines();
  write_atomically(dir_ / "results.jsonl", jsonl_of(records_));
  write_atomically(dir_ / "results.csv", csv(plan_.axes, sorted));
  write_atomically(dir_ / "report.html", html(scenario.name, plan_.scenario_path, plan_.axes,
                                              sorted, scenario.downtime_limits_s));
}

}  // namespace mdevsim::sweep
