// Which pages a workload writes, and how fast.
//
// A PatternSpec describes a stream of page writes (rate in bytes/s of page
// writes, and a spatial pattern). The same patterns drive the device's VRAM
// workloads and the guest vCPUs' RAM dirtying. Generation is counter-based:
// page number n of a stream depends only on (spec, seed, n), so a command in
// flight can be captured as "stream position" and resumed bit-exactly.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

namespace mdevsim::models {

enum class PatternKind { kUniform, kHotset, kZipf, kStreaming, kFramebuffer, kPhased, kTrace };

struct TraceWrite {
  double time_s = 0;   // when the write happens, relative to the workload start
  uint64_t page = 0;   // page index within the memory
  uint64_t count = 1;  // consecutive pages written from `page`
};

struct PatternSpec {
  PatternKind kind = PatternKind::kUniform;
  double rate_bytes_per_s = 0;  // page writes per second × page size
  // Page reads per second × page size, following the same pattern with their
  // own draw (reads never dirty; in post-copy they fault like writes).
  double read_rate_bytes_per_s = 0;
  uint64_t region_first_page = 0;
  uint64_t region_pages = 0;  // 0 = the whole memory
  // hotset: a contiguous hot region of hot_fraction × region receives
  // hot_probability of the writes; the rest go uniformly to the cold pages.
  double hot_fraction = 0.1;
  double hot_probability = 0.9;
  double zipf_exponent = 1.0;      // zipf: rank-k page is written ∝ 1/k^s
  double fps = 60;                 // framebuffer: frames per second
  uint64_t framebuffer_pages = 0;  // framebuffer: pages per frame (0: from rate / fps)
  // phased: sub-patterns run in turn for their durations, then repeat.
  std::vector<PatternSpec> phases;
  std::vector<double> phase_durations_s;
  // trace: timestamped writes loaded from a text file (see docs/scenarios.md).
  std::string trace_file;
  std::vector<TraceWrite> trace;
};

// Turns a PatternSpec into "write number n goes to page p at time t".
// Immutable after construction; cheap to copy the spec, O(1) per page for
// every kind except phased and trace (O(log n)).
class PageWriteGenerator {
 public:
  // Throws std::invalid_argument naming the offending field.
  PageWriteGenerator(const PatternSpec& spec, uint64_t memory_pages, uint32_t page_size,
                     uint64_t seed);
  ~PageWriteGenerator();
  PageWriteGenerator(PageWriteGenerator&&) noexcept;
  PageWriteGenerator& operator=(PageWriteGenerator&&) noexcept;

  // Total page writes due in [0, t): monotone, exact over any interval.
  uint64_t writes_until(double t_s) const;
  // Page index of write number n (0-based over the whole run).
  uint64_t page_of(uint64_t n) const;
  // Configured page writes per second (long-run average).
  double pages_per_second() const;
  const PatternSpec& spec() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One stream of page operations: a pattern's writes or its reads.
struct PageStream {
  bool reads = false;
  size_t pattern = 0;  // index in the pattern list
  PageWriteGenerator gen;
};

// The read stream's spec: the same pattern (region, shape) at the read rate
// (phases at theirs). Throws std::invalid_argument for a trace (no reads).
PatternSpec reads_of(const PatternSpec& spec, uint32_t page_size);

// The streams of patterns running at once, in a fixed order: pattern 0's
// writes first (seeded with `seed`, as a single pattern always was), then
// every other pattern's writes, then the reads of each pattern that has a
// read rate. Every stream draws from its own seed.
std::vector<PageStream> make_page_streams(const std::vector<PatternSpec>& patterns,
                                          uint64_t memory_pages, uint32_t page_size, uint64_t seed);

// Loads a trace file: lines "TIME_S PAGE [COUNT]", '#' comments, blank lines
// allowed, times non-decreasing. Throws std::runtime_error "file:line: why".
std::vector<TraceWrite> load_trace_file(const std::string& path);
// The same from text already read; `name` stands for the file in errors.
std::vector<TraceWrite> parse_trace(std::istream& in, const std::string& name);

}  // namespace mdevsim::models
