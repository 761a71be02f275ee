// Device-only runs (sim/src/device_run.cpp): the device and its driver for
// `duration`, sampled ten times, against what the workload asks for.
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/sim/device_run.h"
#include "mdevsim/sim/scenario.h"

namespace mdevsim::sim {
namespace {

Scenario uniform(const std::string& rate, const std::string& type = "gpu") {
  return load_scenario_text(R"({"name": "t", "duration": "200ms",
      "device": {"type": ")" + type +
                                R"(", "vram": "64MiB", "page_size": "64KiB"},
      "workload": {"kind": "uniform", "dirty_rate": ")" +
                                rate + R"("},
      "vm": {"ram": "256MiB"}})",
                            "t.json");
}

TEST(DeviceRun, WritesTheWorkloadsRateForTheDuration) {
  const Scenario s = uniform("320MiB/s");
  const Result r = run_device_only(s);
  EXPECT_EQ(r.outcome, "completed");
  EXPECT_DOUBLE_EQ(r.total_time_s, 0.2);
  ASSERT_TRUE(r.device_run);
  const auto& d = *r.device_run;
  // 320 MiB/s of 64 KiB pages for 0.2 s: 1024 page writes (the driver
  // submits per 1 ms tick, so within one tick's worth).
  EXPECT_NEAR(static_cast<double>(d.page_writes), 1024.0, 6.0);
  EXPECT_DOUBLE_EQ(d.achieved_rate, static_cast<double>(d.page_writes) * 65536 / 0.2);
  EXPECT_LE(d.unique_pages, d.page_writes);
  EXPECT_LE(d.unique_pages, 1024u);  // 64 MiB of 64 KiB pages
}

TEST(DeviceRun, SamplesDistinctPagesTenTimesAtEvenInstants) {
  const Result r = run_device_only(uniform("320MiB/s"));
  const auto& over_time = r.device_run->unique_pages_over_time;
  ASSERT_EQ(over_time.size(), 10u);
  uint64_t previous = 0;
  for (size_t i = 0; i < over_time.size(); ++i) {
    EXPECT_DOUBLE_EQ(over_time[i].first, 0.2 * static_cast<double>(i + 1) / 10);
    EXPECT_GE(over_time[i].second, previous) << "distinct pages only accumulate";
    previous = over_time[i].second;
  }
  EXPECT_EQ(previous, r.device_run->unique_pages);
}

TEST(DeviceRun, AnIdleWorkloadWritesNothing) {
  const Result r = run_device_only(uniform("0B/s"));
  EXPECT_EQ(r.device_run->page_writes, 0u);
  EXPECT_EQ(r.device_run->unique_pages, 0u);
}

TEST(DeviceRun, AnUnknownDeviceTypeIsRefusedAtLoadByItsPath) {
  try {
    uniform("1MiB/s", "fpga");
    FAIL() << "loaded";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "/device/type");
    EXPECT_NE(std::string(e.what()).find("known: gpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mdevsim::sim
