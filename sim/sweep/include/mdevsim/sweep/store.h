// The result store: a sweep's output directory. One sweep writes to it at a
// time (a lock), sweep.json holds its definition (a resume must match it),
// results.jsonl one record per finished point, appended at once so that an
// interruption loses only points in flight. Executors that run points
// elsewhere leave point files (point-N.json/.err/.exit) that become records.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mdevsim/sweep/plan.h"

namespace mdevsim::sweep {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path);  // "" when unreadable
// Writes beside the target and renames, so readers never see half a file.
void write_atomically(const fs::path& path, const std::string& text);

// A point's results.jsonl record from how its `mdevsim run` ended: its exit
// code, or the signal that killed it (then exit_code is 128+signal), the text
// of its --json file and of its stderr.
ojson make_record(const Plan& plan, size_t point, int exit_code, int signal,
                  const std::string& result_text, const std::string& stderr_text);

// The point files of one point in `dir`. The .exit file (the exit status as
// a decimal line) is written last: a point is finished when it exists.
struct PointFiles {
  fs::path json, err, exit;
};
PointFiles point_files(const fs::path& dir, size_t point);

// The record of a finished point from its files; nullopt when the point has
// not finished or was stopped by SIGINT/SIGTERM/SIGKILL (it runs again).
std::optional<ojson> read_point_files(const Plan& plan, const fs::path& dir, size_t point);

class Store {
 public:
  // Creates dir and takes its lock (UsageError when another sweep holds it).
  Store(fs::path dir, const Plan& plan);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Checks sweep.json (refuses another sweep unless fresh), writes it, and
  // loads the earlier records. Returns how many unreadable lines were dropped.
  size_t open(bool fresh);

  const fs::path& dir() const { return dir_; }
  fs::path points_dir() const { return dir_ / "points"; }
  bool has(size_t point) const { return records_.count(point) != 0; }
  size_t size() const { return records_.size(); }
  std::vector<size_t> missing() const;  // points without a record, in order

  void add(const ojson& record);  // appended to results.jsonl and flushed
  // Records the finished point files in dir for points without a record.
  size_t collect_point_files(const fs::path& dir);

  std::vector<ojson> lines() const;  // sorted by point
  // results.jsonl (sorted), results.csv and report.html.
  void write_outputs(const Validated& scenario);

 private:
  fs::path dir_;
  const Plan& plan_;
  int lock_fd_ = -1;
  std::map<size_t, ojson> records_;
  std::ofstream append_;
};

}  // namespace mdevsim::sweep
