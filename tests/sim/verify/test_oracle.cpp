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

}  // namespace
