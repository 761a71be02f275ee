// A host (sim/src/host.cpp): an sc_module owning its guest RAM, the device
// the scenario's device.type names with its guest driver, the vCPUs and the
// frontend; the device's DMA reaches guest RAM through the TLM target.
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/sim/host.h"

namespace mdevsim::sim {
namespace {

Scenario scenario(const std::string& extra_workload = "") {
  return load_scenario_text(R"({"name": "t",
      "device": {"vram": "64MiB", "page_size": "64KiB"},
      "workload": {"kind": "uniform", "dirty_rate": "64MiB/s", "dma_rate": "64MiB/s")" +
                                extra_workload + R"(},
      "vm": {"ram": "256MiB"},
      "guest": {"kind": "uniform", "dirty_rate": "0B/s"}})",
                            "t.json");
}

TEST(Host, IsAModuleWhosePartsAreItsChildren) {
  Host h("src", scenario(), true);
  EXPECT_STREQ(h.name(), "src");
  EXPECT_EQ(h.model().type(), "gpu");
  bool device = false, driver = false, vcpus = false, ram = false;
  for (sc_core::sc_object* child : h.get_child_objects()) {
    const std::string n = child->name();
    device |= n == "src.device";
    driver |= n == "src.driver";
    vcpus |= n == "src.vcpus";
    ram |= n == "src.ram";
  }
  EXPECT_TRUE(device && driver && vcpus && ram);
}

TEST(Host, DeviceDmaLandsInTheDmaBufferOfGuestRamUntracked) {
  const Scenario s = scenario();
  Host h("src", s, true);
  h.ram.store.start_tracking();
  sc_core::sc_start(sc_core::sc_time(50, sc_core::SC_MS));
  const uint64_t first = s.device.config.dma_buffer_gpa / s.vm.page_size;
  const uint64_t count = s.device.config.dma_buffer_bytes / s.vm.page_size;
  uint64_t written = 0, outside = 0;
  h.ram.store.for_each_touched(
      [&](uint64_t p, uint64_t) { (p >= first && p < first + count ? written : outside)++; });
  EXPECT_GT(written, 0u) << "no DMA reached guest RAM";
  EXPECT_EQ(outside, 0u) << "the vCPUs write nothing; DMA stays in its buffer";
  // KVM's dirty log does not see device DMA (VFIO reports it instead).
  EXPECT_EQ(h.ram.store.dirty().count(), 0u);
}

TEST(Host, PausingTheVmPausesTheVcpusAndTheGuestDriver) {
  Host h("src", scenario(), true);
  h.set_vm_running(false);
  EXPECT_FALSE(h.vcpus.running());
  EXPECT_FALSE(h.guest_driver().guest_running());
  sc_core::sc_start(sc_core::sc_time(20, sc_core::SC_MS));
  EXPECT_EQ(h.model().memory().writes(), 0u) << "a paused guest submits no work";
  h.set_vm_running(true);
  EXPECT_TRUE(h.vcpus.running());
  EXPECT_TRUE(h.guest_driver().guest_running());
}

TEST(Host, TheFrontendDrivesTheHostsDevice) {
  Host h("dst", scenario(), false);
  EXPECT_EQ(h.frontend.state_name(), "RUNNING");
  h.model().set_running(false);
  EXPECT_FALSE(h.model().running());
}

TEST(Host, LoadingTheGuestStateCopiesTheVcpusAndTheGuestDriver) {
  const Scenario s = load_scenario_text(R"({"name": "t",
      "device": {"vram": "64MiB", "page_size": "64KiB"},
      "workload": {"kind": "uniform", "dirty_rate": "64MiB/s"},
      "vm": {"ram": "256MiB"},
      "guest": {"kind": "uniform", "dirty_rate": "64MiB/s"}})",
                                        "t.json");
  Host src("src", s, true), dst("dst", s, false);
  dst.set_vm_running(false);
  sc_core::sc_start(sc_core::sc_time(30, sc_core::SC_MS));
  const auto& src_driver = dynamic_cast<const models::WorkloadDriver&>(src.guest_driver());
  const auto& dst_driver = dynamic_cast<const models::WorkloadDriver&>(dst.guest_driver());
  ASSERT_GT(src.vcpus.state().submitted, 0u);
  ASSERT_GT(src_driver.state().submitted_writes, 0u);
  EXPECT_NE(dst.vcpus.state(), src.vcpus.state());
  dst.load_guest_state_from(src);
  EXPECT_EQ(dst.vcpus.state(), src.vcpus.state());
  EXPECT_EQ(dst_driver.state(), src_driver.state());
}

}  // namespace
}  // namespace mdevsim::sim
