// The verification oracle (sim/verify/oracle.cpp) over a real migration,
// with a HostInspector double that makes the destination diverge after the
// switch check: only the continuation check may find it, and it must name
// the first register that differs.
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/sim/host.h"
#include "mdevsim/sim/migration.h"
#include "mdevsim/sim/quiet_systemc.h"
#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"
#include "verify/inspector.h"
#include "verify/oracle.h"

namespace {

using namespace mdevsim;

// The destination counts a fence and an interrupt it never had, just as the
// continuation starts (after the switch check passed).
class DivergingInspector : public sim::verify::HostInspector {
 public:
  using HostInspector::HostInspector;
  void resume_for_continuation() override {
    auto& regs = dynamic_cast<models::GpuDevice&>(host_.model()).registers;  // quickstart: a gpu
    for (auto r : {models::kFenceCompleted, models::kIrqCount}) regs.set(r, regs.get(r) + 1);
    HostInspector::resume_for_continuation();
  }
};

sim::Result run(bool diverge) {
  const auto s = sim::load_scenario(std::string(MDEVSIM_SOURCE_DIR) + "/scenarios/quickstart.json",
                                    {"migration.start_at=200ms"});
  sim::RunOptions o;
  if (diverge)
    o.inspector = [](sim::Host& h,
                     const char* role) -> std::unique_ptr<sim::verify::HostInspector> {
      if (std::string(role) == "dst") return std::make_unique<DivergingInspector>(h);
      return std::make_unique<sim::verify::HostInspector>(h);
    };
  return sim::run_migration(s, o);
}

TEST(Oracle, ContinuationFailureNamesTheFirstRegister) {
  const auto r = run(true);
  const auto& v = r.verification;
  EXPECT_EQ(r.outcome, "failed");
  EXPECT_EQ(r.reason, "verification failed " + sim::describe_verification_failure(v));
  EXPECT_FALSE(v.passed);
  EXPECT_FALSE(v.continuation_matches);
  EXPECT_EQ(v.failed_check, "continuation");
  // The switch check itself passed.
  EXPECT_EQ(v.vram_pages_mismatched, 0u);
  EXPECT_EQ(v.ram_pages_mismatched, 0u);
  EXPECT_EQ(v.device_fields_mismatched, 0u);
  ASSERT_TRUE(v.first_difference);
  const auto& f = *v.first_difference;
  EXPECT_EQ(f.kind, "register");
  EXPECT_EQ(f.field, "FENCE_COMPLETED");
  EXPECT_FALSE(f.page);
  ASSERT_TRUE(f.expected && f.actual);
  EXPECT_GT(*f.expected, 0u) << "the device did work";
  EXPECT_EQ(*f.actual, *f.expected + 1);
  EXPECT_EQ(v.differences_in_check, 2u) << "FENCE_COMPLETED and IRQ_COUNT";
  EXPECT_EQ(sim::describe_verification_failure(v),
            "after the continuation: register FENCE_COMPLETED " + std::to_string(*f.expected) +
                " vs " + std::to_string(*f.expected + 1) + " (and 1 more)");
}

TEST(Oracle, SameRunWithTheRealInspectorPasses) {
  const auto r = run(false);
  EXPECT_EQ(r.outcome, "completed") << r.reason;
  EXPECT_TRUE(r.verification.passed);
  EXPECT_TRUE(r.verification.continuation_matches);
  EXPECT_TRUE(r.verification.failed_check.empty());
}

// differing_pages() against the walk it replaces, page by page: a's
// non-zero pages ascending, then the pages only b holds; the skipped pages
// not counted. Stores with dense, sparse and resident parts, other salts.
sim::verify::PageDiff reference_diff(const models::PageStore& a, const models::PageStore& b,
                                     uint64_t skip_mod) {
  sim::verify::PageDiff d;
  auto check = [&](uint64_t p) {
    if (p % skip_mod == 3 || a.token(p) == b.token(p)) return;
    if (d.listed.size() < 8) d.listed.push_back(p);
    if (!d.lowest || p < *d.lowest) d.lowest = p;
    ++d.count;
  };
  for (uint64_t p = 0; p < a.page_count(); ++p)
    if (a.token(p) != 0) check(p);
  for (uint64_t p = 0; p < b.page_count(); ++p)
    if (b.token(p) != 0 && a.token(p) == 0) check(p);
  return d;
}

TEST(Oracle, DifferingPagesMatchesThePageByPageWalk) {
  constexpr uint64_t kPages = 3 * models::PageStore::kChunkPages + 40;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    models::PageStore a(kPages * 4096, 4096), b(kPages * 4096, 4096);
    models::Rng rng(seed);
    a.set_content_salt(5);
    b.set_content_salt(seed % 3 == 0 ? 6 : 5);
    a.make_resident(100, 2 * models::PageStore::kChunkPages);
    b.make_resident(100 + seed * 64, models::PageStore::kChunkPages);
    for (int k = 0; k < 700; ++k) {  // chunk 0 becomes dense on both
      const uint64_t p = rng.next() % models::PageStore::kChunkPages, v = rng.next();
      a.write_untracked(p, v);
      if (k % 17 != 0) b.write_untracked(p, v);
    }
    for (int k = 0; k < 60; ++k) {  // sparse elsewhere, and zeroed or resident pages
      const uint64_t p = rng.next() % kPages;
      if (k % 3 == 0) a.set_token(p, rng.next() | 1);
      if (k % 3 == 1) b.set_token(p, 0);
      if (k % 3 == 2) b.set_token(p, a.token(p));
    }
    for (uint64_t skip_mod : {uint64_t{5}, uint64_t{1} << 40}) {
      const auto got =
          sim::verify::differing_pages(a, b, [&](uint64_t p) { return p % skip_mod == 3; });
      const auto want = reference_diff(a, b, skip_mod);
      EXPECT_EQ(got.count, want.count) << seed;
      EXPECT_EQ(got.lowest, want.lowest) << seed;
      EXPECT_EQ(got.listed, want.listed) << seed;
      EXPECT_GT(want.count, 0u);
    }
  }
}

}  // namespace
