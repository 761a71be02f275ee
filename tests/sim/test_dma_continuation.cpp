// A migrated run continues exactly like the run that never migrated, under
// heavy device DMA too: protocols x feature sets x DMA rates up to 16 GiB/s,
// over seeds and over the phase of the continuation's end within the guest
// driver's 1 ms submission tick.
//
// Why the phase: the device executes loosely timed, a 100 us quantum ahead
// per activation. Once a tick's work is more than one quantum (DMA above
// ~5 GiB/s with the default 50 GiB/s DMA engine), the device is mid-work for
// hundreds of microseconds after each tick, and a continuation that stops
// the migrated run and its reference at different instants (one stop
// latency apart) compares two different moments of that work. Ten end
// phases 100 us apart hit that window at every rate above the threshold.
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "mdevsim_cli.h"

namespace {

using mdevsim::testing::run_cli;

struct Device {
  const char* name;
  const char* sets;  // --set options choosing protocol and features
};

const Device kDevices[] = {
    {"v2_all", ""},  // empty_memory_vm.json: stop_copy, p2p, pre_copy
    {"v2_stop_copy_p2p", "--set 'device.features=[\"stop_copy\",\"p2p\"]'"},
    {"v2_stop_copy", "--set 'device.features=[\"stop_copy\"]'"},
    {"v1", "--set device.protocol=v1"},
};
const char* kRates[] = {"4GiB/s", "8GiB/s", "16GiB/s"};
constexpr int kRuns = 10;

class DmaContinuation
    : public ::testing::TestWithParam<std::tuple<size_t /*device*/, size_t /*rate*/>> {};

TEST_P(DmaContinuation, MigratedRunContinuesLikeTheReference) {
  const Device& dev = kDevices[std::get<0>(GetParam())];
  const std::string rate = kRates[std::get<1>(GetParam())];
  int failed = 0;
  for (int k = 0; k < kRuns; ++k) {
    // Seed k+1; the continuation ends 50 ms + k x 100 us after the switch.
    const std::string args =
        "run " MDEVSIM_SOURCE_DIR "/tests/sim/empty_memory_vm.json " + std::string(dev.sets) +
        " --set workload.dma_rate=" + rate + " --set seed=" + std::to_string(k + 1) +
        " --set migration.start_at=200ms" +
        " --set migration.run_after=" + std::to_string(50000 + 100 * k) + "us --json -";
    const auto r = run_cli(args);
    SCOPED_TRACE(args);
    ASSERT_FALSE(r.out.empty()) << "exit " << r.code;
    const auto j = nlohmann::json::parse(r.out);
    const auto& v = j["verification"];
    if (r.code != 0 || j["outcome"] != "completed" || !v["passed"].get<bool>() ||
        !v["continuation_matches"].get<bool>()) {
      ++failed;
      ADD_FAILURE() << j["outcome"] << ": " << j["reason"] << "\n" << v.dump(1);
    }
  }
  EXPECT_EQ(failed, 0) << "of " << kRuns << " runs";
}

INSTANTIATE_TEST_SUITE_P(ProtocolsFeaturesRates, DmaContinuation,
                         ::testing::Combine(::testing::Range<size_t>(0, std::size(kDevices)),
                                            ::testing::Range<size_t>(0, std::size(kRates))),
                         [](const ::testing::TestParamInfo<DmaContinuation::ParamType>& info) {
                           std::string rate = kRates[std::get<1>(info.param)];
                           rate = rate.substr(0, rate.find('G'));
                           return std::string(kDevices[std::get<0>(info.param)].name) + "_dma" +
                                  rate + "GiBps";
                         });

}  // namespace
