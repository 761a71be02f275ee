// The TLM global quantum is the simulation builder's: the factory sets the
// models' default only when the builder chose none, and no device sets it.
// (Each test is its own process: the quantum starts unset unless the test
// main set it, so every test sets its starting point itself.)
#include <gtest/gtest.h>

#include "mdevsim/models/common/quantum.h"
#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/models/gpu/gpu_device.h"

namespace mdevsim::models {
namespace {

using sc_core::sc_time;

DeviceConfig small() {
  DeviceConfig c;
  c.vram_bytes = 1 << 20;
  c.page_size = 4096;
  c.contexts = 1;
  return c;
}

TEST(Quantum, TheDeviceItselfLeavesItAlone) {
  tlm::tlm_global_quantum::instance().set(sc_core::SC_ZERO_TIME);
  GpuDevice dev("dev", small());
  EXPECT_EQ(tlm::tlm_global_quantum::instance().get(), sc_core::SC_ZERO_TIME);
}

TEST(Quantum, TheFactorySetsTheDefaultWhenNoneWasChosen) {
  tlm::tlm_global_quantum::instance().set(sc_core::SC_ZERO_TIME);
  const auto dev = make_device("gpu", "dev", small());
  EXPECT_EQ(tlm::tlm_global_quantum::instance().get(), sc_time(100, sc_core::SC_US));
}

TEST(Quantum, TheFactoryKeepsTheBuildersChoice) {
  tlm::tlm_global_quantum::instance().set(sc_time(7, sc_core::SC_US));
  const auto dev = make_device("gpu", "dev", small());
  EXPECT_EQ(tlm::tlm_global_quantum::instance().get(), sc_time(7, sc_core::SC_US));
}

}  // namespace
}  // namespace mdevsim::models
