// libFuzzer target: a protocol file's text into the loader and validator;
// what loads is then walked as mdevsim fsm and the frontend use it (every
// feature set's paths between every pair of states). Accept, or refuse with a
// ProtocolError; anything else is a bug.
#include <cstdint>
#include <string>

#include "mdevsim/vfio/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mdevsim::vfio::ProtocolSpec;
  ProtocolSpec p;
  try {
    p = mdevsim::vfio::parse_protocol(std::string_view(reinterpret_cast<const char*>(data), size),
                                      "fuzz.json");
  } catch (const mdevsim::vfio::ProtocolError&) {
    return 0;
  }
  const uint64_t all = p.all_flags(), mandatory = p.mandatory_flags();
  // At most 2^10 optional features; walk a bounded sample of the sets.
  int sets = 0;
  for (uint64_t f = all;; f = (f - 1) & all) {
    if ((f & mandatory) == mandatory && sets++ < 8) {
      (void)p.features_name(f);
      (void)p.arcs_for(f);
      for (size_t a = 0; a < p.states.size(); ++a)
        for (size_t b = 0; b < p.states.size(); ++b) {
          size_t next = 0;
          (void)p.supported(a, f);
          (void)p.path(a, b, f);
          (void)p.next_step(a, b, f, next);
        }
    }
    if (f == 0) break;
  }
  (void)p.parse_features(p.features_name(all));
  return 0;
}

extern "C" int sc_main(int, char**) { return 0; }
