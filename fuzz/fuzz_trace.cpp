// libFuzzer target: a trace file (docs/trace-format.md) into the parser, and
// what parses into the trace pattern's generator over a small memory. The
// generator must refuse a trace that writes beyond the memory; an accepted
// one must only ever name pages inside it.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "mdevsim/models/workload/workload_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mdevsim::models;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  PatternSpec spec;
  spec.kind = PatternKind::kTrace;
  try {
    spec.trace = parse_trace(in, "fuzz.trace");
  } catch (const std::runtime_error&) {
    return 0;
  }
  if (spec.trace.empty()) return 0;
  constexpr uint64_t kPages = 1 << 16;
  try {
    PageWriteGenerator g(spec, kPages, 4096, 1);
    const double end = spec.trace.back().time_s;
    const uint64_t total = g.writes_until(end + 1);
    for (uint64_t n = 0; n < total && n < 4096; ++n)
      if (g.page_of(n) >= kPages) abort();  // accepted, but writes beyond the memory
    (void)g.writes_until(end / 2);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

extern "C" int sc_main(int, char**) { return 0; }
