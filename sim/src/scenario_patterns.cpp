// Access patterns (`workload`, `guest` and their lists' elements, phases,
// traces) and resident memory, read for the scenario loader (scenario.cpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "scenario_reader.h"

namespace mdevsim::sim::scenario_io {

namespace {

// The pattern keys each kind reads; another kind's key is refused rather than
// silently ignored (`exponent` on a hotset, `fps` on a uniform pattern).
const std::set<std::string> kPatternKeys = {
    "dirty_rate", "read_rate", "region",     "hot_fraction", "hot_probability",
    "exponent",   "fps",       "frame_size", "phases",       "trace_file"};
const std::map<std::string, std::set<std::string>> kKindKeys = {
    {"uniform", {"dirty_rate", "read_rate", "region"}},
    {"streaming", {"dirty_rate", "read_rate", "region"}},
    {"hotset", {"dirty_rate", "read_rate", "region", "hot_fraction", "hot_probability"}},
    {"zipf", {"dirty_rate", "read_rate", "region", "exponent"}},
    {"framebuffer", {"dirty_rate", "read_rate", "region", "fps", "frame_size"}},
    {"phased", {"phases"}},
    {"trace", {"trace_file"}}};

}  // namespace

// `region` by name: one of the memory's named resident regions.
void named_region(Obj& o, const MemoryShape& m, models::PatternSpec& p) {
  const auto& v = o.get("region");
  const std::string name = v.get<std::string>();
  std::string names;
  for (const auto& r : m.regions) {
    if (!r.name.empty() && r.name == name) {
      p.region_first_page = r.first_page;
      p.region_pages = r.pages;
      return;
    }
    if (!r.name.empty()) names += (names.empty() ? "" : ", ") + r.name;
  }
  o.fail("region", "no region named '" + name + "' in " + m.resident_path +
                       (names.empty() ? " (it names no regions: give a list of {name, offset, "
                                        "size} there, or {offset, size} here)"
                                      : " (its regions: " + names + ")"));
}

models::PatternSpec read_pattern(Obj& o, const MemoryShape& m,
                                 const std::filesystem::path& base_dir, bool allow_phases) {
  const uint64_t memory_bytes = m.bytes;
  const uint32_t page_size = m.page_size;
  models::PatternSpec p;
  const std::string kind = o.str("kind", "uniform");
  static const std::map<std::string, models::PatternKind> kinds = {
      {"uniform", models::PatternKind::kUniform},
      {"hotset", models::PatternKind::kHotset},
      {"zipf", models::PatternKind::kZipf},
      {"streaming", models::PatternKind::kStreaming},
      {"framebuffer", models::PatternKind::kFramebuffer},
      {"phased", models::PatternKind::kPhased},
      {"trace", models::PatternKind::kTrace}};
  const auto k = kinds.find(kind);
  if (k == kinds.end())
    o.fail("kind", "unknown pattern '" + kind +
                       "' (one of uniform, hotset, zipf, streaming, framebuffer, phased, trace)");
  p.kind = k->second;
  const auto& applies = kKindKeys.at(kind);
  for (const auto& key : kPatternKeys)
    if (o.has(key) && !applies.count(key)) {
      std::string list;
      for (const auto& a : applies) list += (list.empty() ? "" : ", ") + a;
      o.fail(key, "does not apply to a " + kind + " pattern (its keys: kind, " + list + ")");
    }
  p.rate_bytes_per_s = o.rate("dirty_rate", 0);
  p.read_rate_bytes_per_s = o.rate("read_rate", 0);
  if (o.has("region") && o.get("region").is_string()) {
    named_region(o, m, p);
  } else if (o.has("region")) {
    Obj r(o.file(), o.get("region"), o.at("region"));
    const uint64_t off = r.size("offset", 0);
    const uint64_t size = r.size("size", memory_bytes - std::min(off, memory_bytes));
    r.finish();
    if (off % page_size) r.fail_size("offset", "must be a multiple of the page size");
    if (size % page_size) r.fail_size("size", "must be a multiple of the page size");
    if (off + size > memory_bytes || size == 0)
      r.fail("", "region must be non-empty and inside the memory");
    p.region_first_page = off / page_size;
    p.region_pages = size / page_size;
  }
  p.hot_fraction = o.number("hot_fraction", 0.1, 0, 1);
  if (p.kind == models::PatternKind::kHotset && p.hot_fraction <= 0)
    o.fail("hot_fraction", "must be > 0");
  p.hot_probability = o.number("hot_probability", 0.9, 0, 1);
  p.zipf_exponent = o.number("exponent", 1.0, 1e-6, 100);
  p.fps = o.number("fps", 60, 1e-3, 1e6);
  if (o.has("frame_size")) {
    const uint64_t fb = o.size("frame_size", 0);
    if (fb == 0 || fb % page_size)
      o.fail_size("frame_size", "must be a non-zero multiple of the page size");
    p.framebuffer_pages = fb / page_size;
  }
  if (o.has("trace_file")) {
    std::filesystem::path tf = o.str("trace_file", "");
    if (tf.is_relative()) tf = base_dir / tf;
    p.trace_file = tf.string();
    if (const std::string why = not_a_readable_file(tf); !why.empty()) o.fail("trace_file", why);
    try {
      p.trace = models::load_trace_file(p.trace_file);
    } catch (const std::exception& e) {
      o.fail("trace_file", e.what());
    }
  }
  if (o.has("phases")) {
    if (!allow_phases) o.fail("phases", "phases cannot nest");
    const auto& arr = o.get("phases");
    if (!arr.is_array() || arr.empty()) o.fail("phases", "must be a non-empty list of phases");
    for (size_t i = 0; i < arr.size(); ++i) {
      Obj ph(o.file(), arr[i], o.at("phases") + "/" + std::to_string(i));
      if (!ph.has("duration")) ph.fail("duration", "every phase needs a duration");
      const double d = ph.duration("duration", 0);
      if (!(d > 0)) ph.fail("duration", "must be > 0");
      p.phase_durations_s.push_back(d);
      p.phases.push_back(read_pattern(ph, m, base_dir, false));
      ph.finish();
    }
  }
  if (p.kind == models::PatternKind::kPhased && p.phases.empty())
    o.fail("phases", "a phased pattern needs phases");
  if (p.kind == models::PatternKind::kTrace && p.trace.empty())
    o.fail("trace_file", "a trace pattern needs a trace_file with writes");
  // The generator is the final judge (e.g. region vs frame size).
  try {
    models::PageWriteGenerator check(p, memory_bytes / page_size, page_size, 1);
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    const auto colon = msg.find(':');
    o.fail(colon == std::string::npos ? "" : msg.substr(0, colon),
           colon == std::string::npos ? msg : msg.substr(colon + 2));
  }
  return p;
}

// A bandwidth that may also be "unlimited" (infinity: it never sets the pace).
double rate_or_unlimited(Obj& o, const std::string& key, double def) {
  if (o.has(key) && o.get(key) == "unlimited") return std::numeric_limits<double>::infinity();
  const double r = o.rate(key, def);
  if (!(r > 0)) o.fail(key, "must be > 0 (or \"unlimited\")");
  return r;
}

// `resident`: "14GiB" (from offset 0), "100%" of the memory, 0, or a list of
// named regions {name, offset, size}; offset defaults to where the previous
// region ends.
std::vector<models::ResidentRegion> read_resident(Obj& o, uint64_t memory_bytes,
                                                  uint32_t page_size) {
  std::vector<models::ResidentRegion> out;
  if (!o.has("resident")) return out;
  const auto& v = o.get("resident");
  const uint64_t pages = memory_bytes / page_size;
  if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().back() == '%') {
    const std::string text = v.get<std::string>();
    const std::string num = text.substr(0, text.size() - 1);
    double pct = -1;
    size_t used = 0;
    try {
      pct = std::stod(num, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (num.empty() || used != num.size() || !std::isfinite(pct) || pct < 0 || pct > 100)
      o.fail("resident",
             "a percentage must be a number from 0 to 100 followed by %, got " + v.dump());
    const auto n = static_cast<uint64_t>(std::floor(pct / 100 * static_cast<double>(pages)));
    if (n > 0) out.push_back({"", 0, std::min(n, pages)});
    return out;
  }
  if (!v.is_array()) {
    if (!v.is_string() && !(v.is_number() && v == 0))
      o.fail("resident",
             "must be a size (\"14GiB\"), a percentage (\"100%\") or a list of regions "
             "{name, offset, size}; got " +
                 v.dump());
    const uint64_t bytes = o.size("resident", 0);
    if (bytes % page_size) o.fail_size("resident", "must be a multiple of the page size");
    if (bytes > memory_bytes)
      o.fail("resident",
             "is larger than the memory (" + format_bytes(static_cast<double>(memory_bytes)) + ")");
    if (bytes > 0) out.push_back({"", 0, bytes / page_size});
    return out;
  }
  uint64_t next = 0;  // bytes
  for (size_t i = 0; i < v.size(); ++i) {
    Obj r(o.file(), v[i], o.at("resident") + "/" + std::to_string(i));
    if (!r.has("name")) r.fail("name", "every region needs a name");
    const std::string name = r.str("name", "");
    if (name.empty()) r.fail("name", "must not be empty");
    for (const auto& e : out)
      if (e.name == name) r.fail("name", "'" + name + "' names two regions");
    const uint64_t off = r.size("offset", next);
    if (!r.has("size")) r.fail("size", "every region needs a size");
    const uint64_t size = r.size("size", 0);
    r.finish();
    if (off % page_size) r.fail_size("offset", "must be a multiple of the page size");
    if (size == 0 || size % page_size)
      r.fail_size("size", "must be a non-zero multiple of the page size");
    if (off > memory_bytes || size > memory_bytes - off)
      r.fail("",
             "ends beyond the memory (" + format_bytes(static_cast<double>(memory_bytes)) + ")");
    const uint64_t first = off / page_size, n = size / page_size;
    for (const auto& e : out)
      if (first < e.first_page + e.pages && e.first_page < first + n)
        r.fail("", "overlaps region '" + e.name + "'");
    out.push_back({name, first, n});
    next = off + size;
  }
  return out;
}

}  // namespace mdevsim::sim::scenario_io
