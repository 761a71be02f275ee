// The switchover rule and auto-converge (sim/vmm/convergence.cpp) against
// QEMU's rule as documented (reference/migration-flow-and-results.md 1.3,
// 1.6): switch when remaining <= bandwidth x downtime_limit (QEMU's
// threshold_size); otherwise force or cancel once out of rounds or time;
// hybrid goes post-copy after its rounds.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "vmm/convergence.h"

namespace {

using namespace mdevsim::sim::vmm;

constexpr double MiB = 1024.0 * 1024.0;

struct Row {
  const char* what;
  ConvergencePolicy policy;
  IterationMeasure m;
  Switchover expected;
};

ConvergencePolicy qemu_defaults() {
  ConvergencePolicy p;
  p.downtime_limit_s = 0.3;
  p.max_iterations = 30;
  p.timeout_s = 60;
  return p;
}
ConvergencePolicy with(ConvergencePolicy p, void (*f)(ConvergencePolicy&)) {
  f(p);
  return p;
}

IterationMeasure measure(double remaining, double bw, uint32_t done = 1, double elapsed = 1,
                         bool timed_out = false) {
  return {static_cast<uint64_t>(remaining), bw, done, elapsed, timed_out};
}

TEST(Convergence, SwitchoverRuleTable) {
  const auto P = qemu_defaults();
  const auto cancel = with(P, [](ConvergencePolicy& p) { p.cancel_on_no_convergence = true; });
  const auto hybrid = with(P, [](ConvergencePolicy& p) {
    p.hybrid = true;
    p.postcopy_after_iterations = 2;
  });
  const auto hybrid_by_time = with(P, [](ConvergencePolicy& p) {
    p.hybrid = true;
    p.postcopy_after_iterations = 100;
    p.postcopy_after_s = 5;
  });
  const auto unlimited = with(P, [](ConvergencePolicy& p) {
    p.max_iterations = 0;
    p.timeout_s = 0;
  });
  // QEMU's worked threshold: 128 MiB/s x 300 ms = 38.4 MiB.
  const double rate_limit = 128 * MiB;
  const std::vector<Row> rows = {
      {"38 MiB under the 38.4 MiB threshold", P, measure(38 * MiB, rate_limit),
       Switchover::kConverged},
      {"39 MiB over it", P, measure(39 * MiB, rate_limit), Switchover::kNone},
      {"exactly at the threshold switches", P, measure(300e6, 1e9), Switchover::kConverged},
      {"10 GbE at 1.15 GB/s: 330 MB fits", P, measure(330e6, 1.15e9), Switchover::kConverged},
      {"10 GbE at 1.15 GB/s: 360 MB does not", P, measure(360e6, 1.15e9), Switchover::kNone},
      {"nothing left always switches", P, measure(0, 1e6), Switchover::kConverged},
      {"round 29 of 30 iterates", P, measure(1e9, 1e8, 29), Switchover::kNone},
      {"round 30 of 30 forces", P, measure(1e9, 1e8, 30), Switchover::kForced},
      {"round 30 of 30 cancels under cancel", cancel, measure(1e9, 1e8, 30), Switchover::kCancel},
      {"converging in the last round is converged", P, measure(1e6, 1e8, 30),
       Switchover::kConverged},
      {"59.9 s of a 60 s timeout iterates", P, measure(1e9, 1e8, 3, 59.9), Switchover::kNone},
      {"60 s of a 60 s timeout forces", P, measure(1e9, 1e8, 3, 60), Switchover::kForced},
      {"a pass cut short by the timeout forces", P, measure(1e9, 1e8, 3, 10, true),
       Switchover::kForced},
      {"no limits: round 1000 iterates", unlimited, measure(1e9, 1e8, 1000, 1e4),
       Switchover::kNone},
      {"hybrid after 1 of 2 rounds iterates", hybrid, measure(1e9, 1e8, 1), Switchover::kNone},
      {"hybrid after 2 rounds goes post-copy", hybrid, measure(1e9, 1e8, 2), Switchover::kPostcopy},
      {"hybrid that converges switches pre-copy", hybrid, measure(1e6, 1e8, 2),
       Switchover::kConverged},
      {"hybrid by time: 5 s of pre-copy", hybrid_by_time, measure(1e9, 1e8, 1, 5),
       Switchover::kPostcopy},
      {"hybrid by time: 4.9 s", hybrid_by_time, measure(1e9, 1e8, 1, 4.9), Switchover::kNone},
      {"hybrid out of rounds forces first",
       with(hybrid, [](ConvergencePolicy& p) { p.max_iterations = 2; }), measure(1e9, 1e8, 2),
       Switchover::kForced},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    const auto d = decide_switchover(r.policy, r.m);
    EXPECT_EQ(switchover_name(d.action), std::string(switchover_name(r.expected)));
    // The estimate is remaining over the bandwidth, whatever the decision.
    EXPECT_DOUBLE_EQ(d.expected_downtime_s,
                     static_cast<double>(r.m.remaining_bytes) / r.m.bandwidth);
  }
}

// Auto-converge: dirtied > 50% of sent, twice in a row, throttles 20%, then
// +10% per two periods, capped at 99%.
TEST(Convergence, AutoConvergeTable) {
  struct Period {
    double dirtied, sent;
    double throttle_after;
    bool changed;
  };
  const std::vector<Period> seq = {
      {60, 100, 0, false},   {60, 100, 0.2, true},   // twice above: 20%
      {50, 100, 0.2, false},                         // exactly 50% is not above: resets
      {60, 100, 0.2, false}, {40, 100, 0.2, false},  // not in a row
      {60, 100, 0.2, false}, {60, 100, 0.3, true},  {60, 100, 0.3, false}, {60, 100, 0.4, true},
  };
  AutoConverge s;
  for (size_t i = 0; i < seq.size(); ++i) {
    SCOPED_TRACE(i);
    bool changed = true;
    s = auto_converge_step(s, seq[i].dirtied, seq[i].sent, &changed);
    EXPECT_NEAR(s.throttle, seq[i].throttle_after, 1e-12);
    EXPECT_EQ(changed, seq[i].changed);
  }
  // From 40%, six more raises: 50, 60, 70, 80, 90, then 99 (the cap), and it stays.
  for (double want : {0.5, 0.6, 0.7, 0.8, 0.9, 0.99, 0.99}) {
    s = auto_converge_step(s, 1, 0);
    s = auto_converge_step(s, 1, 0);
    EXPECT_NEAR(s.throttle, want, 1e-12);
    EXPECT_EQ(s.trigger, 0u);
  }
}

}  // namespace
