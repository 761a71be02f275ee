// What the scenario loader's parts share (sim/src/scenario.cpp reads the
// file and its sections, scenario_patterns.cpp the access patterns and
// resident memory): a JSON object reader that names the file and JSON
// pointer in every error and refuses unknown keys.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/models/workload/workload_pattern.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim::scenario_io {

using nlohmann::json;

constexpr double kMinSubmitInterval = 1e-6;  // seconds; see /workload/submit_interval

inline bool power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// "" when `path` is a regular file that can be opened, else why not: a
// directory or a device (which would read forever) is not an input file.
inline std::string not_a_readable_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return path.string() + ": the file does not exist";
  if (std::filesystem::is_directory(st)) return path.string() + ": is a directory, not a file";
  if (!std::filesystem::is_regular_file(st)) return path.string() + ": is not a regular file";
  if (!std::ifstream(path)) return path.string() + ": cannot open it: " + std::strerror(errno);
  return "";
}

// A JSON object being read: remembers which keys were consumed so that
// unknown keys can be reported by name.
class Obj {
 public:
  Obj(const std::string& file, const json& j, std::string path)
      : file_(file), j_(j), path_(std::move(path)) {
    if (!j_.is_object()) fail("", "must be an object, got " + std::string(j_.type_name()));
  }

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw InputError(file_, key.empty() ? (path_.empty() ? "/" : path_) : path_ + "/" + key, why);
  }
  std::string at(const std::string& key) const { return path_ + "/" + key; }
  bool has(const std::string& key) {
    seen_.insert(key);
    return j_.contains(key);
  }
  const json& get(const std::string& key) {
    seen_.insert(key);
    return j_.at(key);
  }

  std::string str(const std::string& key, std::string def) {
    if (!has(key)) return def;
    const auto& v = get(key);
    if (!v.is_string()) fail(key, "must be a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  bool boolean(const std::string& key, bool def) {
    if (!has(key)) return def;
    const auto& v = get(key);
    if (!v.is_boolean()) fail(key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  double number(const std::string& key, double def, double lo, double hi) {
    if (!has(key)) return def;
    const auto& v = get(key);
    if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
    const double d = v.get<double>();
    if (!(d >= lo && d <= hi))
      fail(key, "must be between " + fmt(lo) + " and " + fmt(hi) + ", got " + v.dump());
    return d;
  }
  uint64_t integer(const std::string& key, uint64_t def, uint64_t lo, uint64_t hi) {
    if (!has(key)) return def;
    const auto& v = get(key);
    if (!v.is_number_integer() ||
        (v.is_number_integer() && v.get<int64_t>() < 0 && !v.is_number_unsigned()))
      fail(key, "must be a whole number >= 0, got " + v.dump());
    const auto u = v.get<uint64_t>();
    if (u < lo || u > hi)
      fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                    v.dump());
    return u;
  }
  template <typename F>
  auto unit(const std::string& key, F parse) -> decltype(parse(std::string())) {
    const auto& v = get(key);
    // Zero is zero in every unit: a bare 0 needs none (as a string, the
    // parsers accept "0"; --set migration.timeout=0 arrives as a number).
    if (v.is_number() && v == 0) return 0;
    if (!v.is_string())
      fail(key, "must be a string with a unit, e.g. \"4GiB\", \"10Gbit/s\" or \"300ms\"; got " +
                    v.dump());
    try {
      return parse(v.get<std::string>());
    } catch (const UnitError& e) {
      fail(key, e.what());
    }
  }
  uint64_t size(const std::string& key, uint64_t def) {
    return has(key) ? unit(key, parse_size) : def;
  }
  double rate(const std::string& key, double def) {
    if (!has(key)) return def;
    const double r = unit(key, parse_rate);
    return r;
  }
  double duration(const std::string& key, double def) {
    return has(key) ? unit(key, parse_duration) : def;
  }
  // A size key failed a binary-multiple check: when it was written with an SI
  // unit, say that GB is 10^9 bytes and GiB 2^30 (the usual slip).
  [[noreturn]] void fail_size(const std::string& key, const std::string& why) const {
    std::string hint;
    if (j_.contains(key) && j_.at(key).is_string()) {
      const std::string text = j_.at(key).get<std::string>();
      for (const char* si : {"KB", "MB", "GB", "TB"})
        if (text.size() > 2 && text.compare(text.size() - 2, 2, si) == 0) {
          const std::string iec = text.substr(0, text.size() - 2) + si[0] + "iB";
          hint = " (" + std::string(si) + " is 10^" +
                 std::to_string(3 * (std::string("KMGT").find(si[0]) + 1)) + " bytes, " + si[0] +
                 "iB 2^" + std::to_string(10 * (std::string("KMGT").find(si[0]) + 1)) +
                 ": did you mean " + iec + "?)";
        }
    }
    fail(key, why + hint);
  }

  // Call once every key has been read: anything left is a typo or unsupported.
  void finish() const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (!seen_.count(it.key())) {
        std::string known;
        for (const auto& k : seen_) known += (known.empty() ? "" : ", ") + k;
        fail(it.key(), "unknown key (known here: " + known + ")");
      }
    }
  }
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }

 private:
  static std::string fmt(double d) {
    std::ostringstream o;
    o << d;
    return o.str();
  }
  const std::string& file_;
  const json& j_;
  std::string path_;
  std::set<std::string> seen_;
};

// The memory a pattern runs over: its size, page size and named regions.
struct MemoryShape {
  uint64_t bytes;
  uint32_t page_size;
  const std::vector<models::ResidentRegion>& regions;
  const char* resident_path;  // where its regions are defined ("/device/resident")
};

// `region` by name: one of the memory's named resident regions.
void named_region(Obj& o, const MemoryShape& m, models::PatternSpec& p);
// One pattern object of `workload` or `guest`.
models::PatternSpec read_pattern(Obj& o, const MemoryShape& m,
                                 const std::filesystem::path& base_dir, bool allow_phases);
// A bandwidth that may also be "unlimited" (infinity: it never sets the pace).
double rate_or_unlimited(Obj& o, const std::string& key, double def);
// `resident`: a size from offset 0, a percentage of the memory, 0, or a
// list of named regions {name, offset, size}.
std::vector<models::ResidentRegion> read_resident(Obj& o, uint64_t memory_bytes,
                                                  uint32_t page_size);

// `workload` and `guest`: one pattern object, or a list of patterns running at
// once. `each(obj, index)` reads one element (index 0 for a lone object).
template <typename Each>
void read_patterns(const std::string& file, const json& j, const std::string& path, Each each) {
  if (!j.is_array()) {
    Obj o(file, j, path);
    each(o, 0);
    o.finish();
    return;
  }
  if (j.empty())
    throw InputError(file, path, "must be a pattern object or a non-empty list of them");
  for (size_t i = 0; i < j.size(); ++i) {
    Obj o(file, j[i], path + "/" + std::to_string(i));
    each(o, i);
    o.finish();
  }
}

}  // namespace mdevsim::sim::scenario_io
