// The verification oracle: "nothing lost" checked, not assumed. It compares
// the destination with the source at the switch, clones the never-migrated
// reference (post-copy), checks that the migrated run continues like the
// source would have, samples post-copy slowdown, and checks that a cancelled
// migration left the source intact. It sees hosts through HostInspector
// (devices through their type's HostInspector) only and never steers the
// migration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"
#include "verify/inspector.h"
#include "vmm/observer.h"

namespace mdevsim::sim {
class RunRecorder;
}

namespace mdevsim::sim::verify {

// Pages whose content differs between two stores; the lowest one and the
// first few in walking order.
struct PageDiff {
  uint64_t count = 0;
  std::optional<uint64_t> lowest;
  std::vector<uint64_t> listed;
};
// `skip(page)`: pages not compared (still missing at the destination).
// Walking order (what `listed` shows): the pages `a` holds, ascending, then
// the pages only `b` holds, ascending. Found a word of 64 pages at a time
// (PageStore::for_each_difference).
template <typename Skip>
PageDiff differing_pages(const models::PageStore& a, const models::PageStore& b, Skip skip) {
  PageDiff d;
  std::vector<uint64_t> only_b;  // listed after a's pages
  models::PageStore::for_each_difference(a, b, [&](uint64_t p, uint64_t ta, uint64_t) {
    if (skip(p)) return;
    if (!d.lowest) d.lowest = p;  // ascending: the first is the lowest
    ++d.count;
    if (ta != 0) {
      if (d.listed.size() < 8) d.listed.push_back(p);
    } else if (only_b.size() < 8) {
      only_b.push_back(p);
    }
  });
  for (uint64_t p : only_b)
    if (d.listed.size() < 8) d.listed.push_back(p);
  return d;
}

using PostcopyFigures = vmm::PostcopyFigures;

class Oracle {
 public:
  Oracle(const Scenario& s, HostInspector& src, HostInspector& dst, HostInspector* ref,
         Result& result)
      : s_(s), src_(src), dst_(dst), ref_(ref), result_(result) {}

  // Bit-exact check at the switch: everything the destination has equals the
  // source's; pages it lacks are listed as missing (fetched and checked later).
  void verify_switch();
  // Clone of the source at its stop: the reference that never migrates.
  void clone_reference();
  void note_work_at_switch() { work_at_switch_ = src_.work(); }
  // The largest lag of the destination's device work behind the reference
  // seen so far (sampled every 1 ms: engines that catch up later hide it at
  // the end). Counted once the reference has done 100 pages since the switch.
  void sample_slowdown();
  // End of post-copy: checks every placed page and writes result.postcopy.
  void finish_postcopy(const PostcopyFigures& f, RunRecorder* recorder);
  // After a pre-copy switch: the destination at its start against the
  // source at its stop, then both run on and are compared again.
  void verify();
  // A cancelled migration: the source's device state before it resumed.
  uint64_t source_state_hash() const { return src_.device().state_hash(); }
  bool source_running() const { return src_.device_and_vcpus_running(); }

 private:
  void note_check(const char* check, const models::DeviceDiff& device, const PageDiff& vram,
                  const PageDiff& ram);
  void note_failure(const char* check, VerificationDifference f);

  const Scenario& s_;
  HostInspector& src_;
  HostInspector& dst_;
  HostInspector* ref_;
  Result& result_;
  std::pair<uint64_t, uint64_t> work_at_switch_{0, 0};
  double peak_slowdown_ = 0;
};

}  // namespace mdevsim::sim::verify
