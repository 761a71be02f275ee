#include "mdevsim/models/workload/workload_pattern.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw std::invalid_argument(field + ": " + why);
}

// Writes due in [0, t) at a constant rate: floor keeps every interval exact
// to within one write, whatever the interval boundaries.
uint64_t constant_rate_writes(double pages_per_s, double t) {
  if (t <= 0 || pages_per_s <= 0) return 0;
  return static_cast<uint64_t>(std::floor(static_cast<long double>(pages_per_s) * t));
}

// Rejection-inversion sampling of Zipf ranks (Hörmann & Derflinger 1996):
// O(1) expected per sample for any exponent > 0 and any number of ranks.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t ranks, double exponent) : n_(ranks), s_(exponent) {
    h_integral_x1_ = h_integral(1.5) - 1.0;
    h_integral_n_ = h_integral(static_cast<double>(n_) + 0.5);
    squeeze_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
  }

  // Rank in [1, n]; uses as many uniforms from the keyed stream as it needs.
  uint64_t sample(uint64_t key) const {
    for (uint64_t attempt = 0;; ++attempt) {
      const double u = h_integral_n_ +
                       unit_double(stream_value(key, attempt)) * (h_integral_x1_ - h_integral_n_);
      const double x = h_integral_inverse(u);
      double kd = std::floor(x + 0.5);
      kd = std::clamp(kd, 1.0, static_cast<double>(n_));
      const auto k = static_cast<uint64_t>(kd);
      if (kd - x <= squeeze_ || u >= h_integral(kd + 0.5) - h(kd)) return k;
    }
  }

 private:
  static double helper1(double x) {
    return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - 0.25 * x));
  }
  static double helper2(double x) {
    return std::abs(x) > 1e-8 ? std::expm1(x) / x
                              : 1 + x * 0.5 * (1 + x * (1.0 / 3) * (1 + 0.25 * x));
  }
  double h(double x) const { return std::exp(-s_ * std::log(x)); }
  double h_integral(double x) const {
    const double lx = std::log(x);
    return helper2((1 - s_) * lx) * lx;
  }
  double h_integral_inverse(double x) const {
    double t = x * (1 - s_);
    if (t < -1) t = -1;
    return std::exp(helper1(t) * x);
  }

  uint64_t n_;
  double s_;
  double h_integral_x1_ = 0, h_integral_n_ = 0, squeeze_ = 0;
};

uint64_t gcd64(uint64_t a, uint64_t b) { return std::gcd(a, b); }

}  // namespace

struct PageWriteGenerator::Impl {
  PatternSpec spec;
  uint64_t memory_pages = 0;
  uint32_t page_size = 0;
  uint64_t seed = 0;
  uint64_t first = 0, pages = 0;  // region
  double pps = 0;                 // page writes per second

  // hotset
  uint64_t hot_pages = 0;
  // zipf
  std::unique_ptr<ZipfSampler> zipf;
  uint64_t scatter_mul = 1, scatter_add = 0;
  // framebuffer
  uint64_t frame_pages = 0;
  // phased
  std::vector<PageWriteGenerator> phases;
  std::vector<uint64_t> phase_writes;  // writes per phase per cycle
  std::vector<uint64_t> phase_prefix;  // prefix sums of phase_writes
  std::vector<double> phase_start;     // start time within the cycle
  uint64_t cycle_writes = 0;
  double cycle_time = 0;
  // trace
  std::vector<TraceWrite> trace;
  std::vector<uint64_t> trace_prefix;  // writes before entry i

  void validate_and_prepare(const std::string& where);
  uint64_t writes_until(double t) const;
  uint64_t page_of(uint64_t n) const;
};

void PageWriteGenerator::Impl::validate_and_prepare(const std::string& where) {
  const auto field = [&](const char* f) { return where + f; };
  if (!std::isfinite(spec.rate_bytes_per_s) || spec.rate_bytes_per_s < 0)
    bad(field("dirty_rate"), "must be a finite rate >= 0");
  if (!std::isfinite(spec.read_rate_bytes_per_s) || spec.read_rate_bytes_per_s < 0)
    bad(field("read_rate"), "must be a finite rate >= 0");
  if (spec.read_rate_bytes_per_s > 0 && spec.kind == PatternKind::kTrace)
    bad(field("read_rate"), "a trace replays writes only");
  if (spec.region_first_page >= memory_pages)
    bad(field("region"), "starts at page " + std::to_string(spec.region_first_page) +
                             " but the memory has only " + std::to_string(memory_pages) + " pages");
  first = spec.region_first_page;
  pages = spec.region_pages == 0 ? memory_pages - first : spec.region_pages;
  if (first + pages > memory_pages || first + pages < first)
    bad(field("region"), "ends beyond the memory (" + std::to_string(memory_pages) + " pages)");
  pps = spec.rate_bytes_per_s / page_size;

  switch (spec.kind) {
    case PatternKind::kUniform:
    case PatternKind::kStreaming:
      break;
    case PatternKind::kHotset: {
      if (!(spec.hot_fraction > 0 && spec.hot_fraction <= 1))
        bad(field("hot_fraction"), "must be in (0, 1], got " + std::to_string(spec.hot_fraction));
      if (!(spec.hot_probability >= 0 && spec.hot_probability <= 1))
        bad(field("hot_probability"),
            "must be in [0, 1], got " + std::to_string(spec.hot_probability));
      hot_pages =
          std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(spec.hot_fraction * pages)));
      hot_pages = std::min(hot_pages, pages);
      break;
    }
    case PatternKind::kZipf: {
      if (!(spec.zipf_exponent > 0) || !std::isfinite(spec.zipf_exponent))
        bad(field("exponent"), "must be > 0, got " + std::to_string(spec.zipf_exponent));
      zipf = std::make_unique<ZipfSampler>(pages, spec.zipf_exponent);
      // Scatter ranks with an affine bijection mod pages so hot pages are spread out.
      scatter_mul = (mix64(seed ^ 0x5a1fULL) % pages) | 1;
      while (gcd64(scatter_mul, pages) != 1) scatter_mul += 2;
      scatter_mul %= pages == 1 ? 1 : pages;
      if (pages == 1) scatter_mul = 1;
      scatter_add = mix64(seed ^ 0xadd5ULL) % pages;
      break;
    }
    case PatternKind::kFramebuffer: {
      if (!(spec.fps > 0) || !std::isfinite(spec.fps)) bad(field("fps"), "must be > 0");
      if (spec.framebuffer_pages == 0) {
        frame_pages = std::max<uint64_t>(
            1, static_cast<uint64_t>(std::llround(spec.rate_bytes_per_s / (spec.fps * page_size))));
      } else {
        frame_pages = spec.framebuffer_pages;
        const double implied = spec.fps * static_cast<double>(frame_pages);
        if (spec.rate_bytes_per_s == 0) {
          pps = implied;
        } else if (std::abs(pps - implied) > 0.01 * implied) {
          bad(field("dirty_rate"), "disagrees with fps x frame_size (give one or the other)");
        }
      }
      if (frame_pages > pages) bad(field("frame_size"), "is larger than the region");
      break;
    }
    case PatternKind::kPhased: {
      if (spec.phases.empty()) bad(field("phases"), "must list at least one phase");
      if (spec.phases.size() != spec.phase_durations_s.size())
        bad(field("phases"), "every phase needs a duration");
      uint64_t acc = 0;
      double t = 0;
      for (size_t i = 0; i < spec.phases.size(); ++i) {
        const double d = spec.phase_durations_s[i];
        if (!(d > 0) || !std::isfinite(d))
          bad(where + "phases/" + std::to_string(i) + "/duration", "must be > 0");
        if (spec.phases[i].kind == PatternKind::kPhased ||
            spec.phases[i].kind == PatternKind::kTrace)
          bad(where + "phases/" + std::to_string(i) + "/kind",
              "phases cannot nest phased or trace");
        phases.emplace_back(spec.phases[i], memory_pages, page_size, mix64(seed + i + 1));
        const uint64_t w = constant_rate_writes(phases.back().pages_per_second(), d);
        phase_prefix.push_back(acc);
        phase_start.push_back(t);
        phase_writes.push_back(w);
        acc += w;
        t += d;
      }
      cycle_writes = acc;
      cycle_time = t;
      pps = static_cast<double>(cycle_writes) / cycle_time;
      break;
    }
    case PatternKind::kTrace: {
      trace = spec.trace.empty() && !spec.trace_file.empty() ? load_trace_file(spec.trace_file)
                                                             : spec.trace;
      if (trace.empty()) bad(field("trace"), "has no writes");
      uint64_t acc = 0;
      double last = 0;
      for (size_t i = 0; i < trace.size(); ++i) {
        const auto& w = trace[i];
        if (w.time_s < last)
          bad(field("trace"), "times must not decrease (entry " + std::to_string(i) + ")");
        if (w.count == 0 || w.page >= memory_pages || w.count > memory_pages - w.page)  // no wrap
          bad(field("trace"), "entry " + std::to_string(i) + " writes beyond the memory");
        last = w.time_s;
        trace_prefix.push_back(acc);
        acc += w.count;
      }
      trace_prefix.push_back(acc);
      pps = last > 0 ? static_cast<double>(acc) / last : static_cast<double>(acc);
      break;
    }
  }
}

uint64_t PageWriteGenerator::Impl::writes_until(double t) const {
  if (t <= 0) return 0;
  switch (spec.kind) {
    case PatternKind::kPhased: {
      const double cycles = std::floor(t / cycle_time);
      const double rem = t - cycles * cycle_time;
      uint64_t total = static_cast<uint64_t>(cycles) * cycle_writes;
      for (size_t i = 0; i < phases.size(); ++i) {
        if (rem <= phase_start[i]) break;
        total += std::min(phase_writes[i], phases[i].writes_until(rem - phase_start[i]));
      }
      return total;
    }
    case PatternKind::kTrace: {
      // Writes whose timestamp is < t.
      auto it = std::lower_bound(trace.begin(), trace.end(), t,
                                 [](const TraceWrite& w, double x) { return w.time_s < x; });
      return trace_prefix[static_cast<size_t>(it - trace.begin())];
    }
    default:
      return constant_rate_writes(pps, t);
  }
}

uint64_t PageWriteGenerator::Impl::page_of(uint64_t n) const {
  switch (spec.kind) {
    case PatternKind::kUniform:
      return first + bounded(stream_value(seed, n), pages);
    case PatternKind::kHotset: {
      const bool hot = unit_double(stream_value(seed, n)) < spec.hot_probability;
      const uint64_t pick = stream_value(seed ^ 0x407ULL, n);
      const uint64_t cold_pages = pages - hot_pages;
      if (hot || cold_pages == 0) return first + bounded(pick, hot_pages);
      return first + hot_pages + bounded(pick, cold_pages);
    }
    case PatternKind::kZipf: {
      const uint64_t rank = zipf->sample(mix64(seed ^ mix64(n)));
      const auto scattered = static_cast<uint64_t>(
          (static_cast<unsigned __int128>(rank - 1) * scatter_mul + scatter_add) % pages);
      return first + scattered;
    }
    case PatternKind::kStreaming:
      return first + n % pages;
    case PatternKind::kFramebuffer:
      return first + n % frame_pages;
    case PatternKind::kPhased: {
      if (cycle_writes == 0) return first;
      const uint64_t cycle = n / cycle_writes, r = n % cycle_writes;
      const size_t i = static_cast<size_t>(
          std::upper_bound(phase_prefix.begin(), phase_prefix.end(), r) - phase_prefix.begin() - 1);
      return phases[i].page_of(cycle * phase_writes[i] + (r - phase_prefix[i]));
    }
    case PatternKind::kTrace: {
      const uint64_t total = trace_prefix.back();
      if (n >= total) n = total - 1;
      const size_t i =
          static_cast<size_t>(std::upper_bound(trace_prefix.begin(), trace_prefix.end() - 1, n) -
                              trace_prefix.begin() - 1);
      return trace[i].page + (n - trace_prefix[i]);
    }
  }
  return first;
}

PageWriteGenerator::PageWriteGenerator(const PatternSpec& spec, uint64_t memory_pages,
                                       uint32_t page_size, uint64_t seed)
    : impl_(std::make_unique<Impl>()) {
  if (memory_pages == 0) bad("memory", "has no pages");
  if (page_size == 0) bad("page_size", "must be > 0");
  impl_->spec = spec;
  impl_->memory_pages = memory_pages;
  impl_->page_size = page_size;
  impl_->seed = mix64(seed ^ 0x6d64657673696dULL);
  impl_->validate_and_prepare("");
}

PageWriteGenerator::~PageWriteGenerator() = default;
PageWriteGenerator::PageWriteGenerator(PageWriteGenerator&&) noexcept = default;
PageWriteGenerator& PageWriteGenerator::operator=(PageWriteGenerator&&) noexcept = default;

uint64_t PageWriteGenerator::writes_until(double t_s) const { return impl_->writes_until(t_s); }
uint64_t PageWriteGenerator::page_of(uint64_t n) const { return impl_->page_of(n); }
double PageWriteGenerator::pages_per_second() const { return impl_->pps; }
const PatternSpec& PageWriteGenerator::spec() const { return impl_->spec; }

PatternSpec reads_of(const PatternSpec& spec, uint32_t page_size) {
  if (spec.kind == PatternKind::kTrace) bad("read_rate", "a trace replays writes only");
  PatternSpec r = spec;
  r.rate_bytes_per_s = spec.read_rate_bytes_per_s;
  r.read_rate_bytes_per_s = 0;
  // A framebuffer of a given frame size is read whole, as often as the read
  // rate allows (scan-out); none at all without a read rate.
  if (r.kind == PatternKind::kFramebuffer && r.framebuffer_pages > 0) {
    if (r.rate_bytes_per_s > 0)
      r.fps = r.rate_bytes_per_s / (static_cast<double>(r.framebuffer_pages) * page_size);
    else
      r.framebuffer_pages = 0;
  }
  for (auto& ph : r.phases) ph = reads_of(ph, page_size);
  return r;
}

namespace {
bool has_reads(const PatternSpec& p) {
  if (p.read_rate_bytes_per_s > 0) return true;
  for (const auto& ph : p.phases)
    if (has_reads(ph)) return true;
  return false;
}
}  // namespace

std::vector<PageStream> make_page_streams(const std::vector<PatternSpec>& patterns,
                                          uint64_t memory_pages, uint32_t page_size,
                                          uint64_t seed) {
  std::vector<PageStream> out;
  for (size_t i = 0; i < patterns.size(); ++i) {
    const uint64_t s = i == 0 ? seed : mix64(seed ^ (0x57a7e0ULL + i));
    out.push_back({false, i, PageWriteGenerator(patterns[i], memory_pages, page_size, s)});
  }
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!has_reads(patterns[i])) continue;
    const uint64_t s = mix64(seed ^ (0x7eadULL + i));
    out.push_back(
        {true, i,
         PageWriteGenerator(reads_of(patterns[i], page_size), memory_pages, page_size, s)});
  }
  return out;
}

std::vector<TraceWrite> load_trace_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open trace file");
  return parse_trace(in, path);
}

std::vector<TraceWrite> parse_trace(std::istream& in, const std::string& path) {
  std::vector<TraceWrite> out;
  std::string line;
  int lineno = 0;
  double last = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string a, b, c, extra;
    if (!(fields >> a)) continue;  // blank or comment-only
    const auto where = path + ":" + std::to_string(lineno) + ": ";
    if (!(fields >> b)) throw std::runtime_error(where + "expected 'TIME_S PAGE [COUNT]'");
    fields >> c;
    if (fields >> extra) throw std::runtime_error(where + "too many fields: '" + extra + "'");
    TraceWrite w;
    try {
      size_t used = 0;
      w.time_s = std::stod(a, &used);
      if (used != a.size()) throw std::invalid_argument(a);
      w.page = std::stoull(b, &used, 0);
      if (used != b.size() || b[0] == '-') throw std::invalid_argument(b);
      if (!c.empty()) {
        w.count = std::stoull(c, &used, 0);
        if (used != c.size() || c[0] == '-' || w.count == 0) throw std::invalid_argument(c);
      }
    } catch (const std::exception&) {
      throw std::runtime_error(where + "not a number where one was expected in '" + line + "'");
    }
    if (!std::isfinite(w.time_s) || w.time_s < 0)
      throw std::runtime_error(where + "time must be a number >= 0");
    if (w.time_s < last)
      throw std::runtime_error(where + "time " + a + " is earlier than the previous line's");
    last = w.time_s;
    out.push_back(w);
  }
  return out;
}

}  // namespace mdevsim::models
