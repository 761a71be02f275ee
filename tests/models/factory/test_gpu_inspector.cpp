// The GPU's DeviceInspector (models/factory/src/gpu_inspector.cpp), made by
// the factory from the device and its guest driver: what it reads matches
// the device, cloning makes an equal device and driver, stopping together
// stops both, and a driver of another type is refused.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"

namespace mdevsim::models {
namespace {

DeviceConfig small() {
  DeviceConfig c;
  c.vram_bytes = 8 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 2;
  c.stop_latency_s = 0;
  return c;
}

WorkloadSpec uniform() {
  WorkloadSpec w;
  w.vram.kind = PatternKind::kUniform;
  w.vram.rate_bytes_per_s = 256.0 * (1 << 20);
  return w;
}

struct Built {
  Built(const char* name, uint64_t seed = 1)
      : device(make_device("gpu", std::string(name) + "_dev", small())),
        driver(make_guest_driver(std::string(name) + "_drv", *device, uniform(), seed)),
        inspector(make_inspector(*device, *driver)) {}
  GpuDevice& gpu() { return dynamic_cast<GpuDevice&>(*device); }
  WorkloadDriver& workload() { return dynamic_cast<WorkloadDriver&>(*driver); }
  std::unique_ptr<Device> device;
  std::unique_ptr<GuestDriver> driver;
  std::unique_ptr<DeviceInspector> inspector;
};

TEST(GpuInspector, ReadsWhatTheDeviceHas) {
  Built a("a"), b("b");
  EXPECT_EQ(&a.inspector->device(), a.device.get());
  EXPECT_EQ(&a.inspector->memory(), &a.gpu().vram.store());
  EXPECT_TRUE(a.inspector->compare(*b.inspector).equal());
  a.device->memory().write(5, 9);
  const DeviceDiff d = a.inspector->compare(*b.inspector);
  EXPECT_EQ(d.vram_pages, 1u);
  EXPECT_EQ(d.first_vram_page, 5u);
  EXPECT_EQ(a.inspector->state_hash(), a.device->state_hash());
  EXPECT_NE(a.inspector->state_hash(), b.inspector->state_hash());
  EXPECT_TRUE(a.inspector->running());
  EXPECT_EQ(a.inspector->missing_count(), 0u);
  a.gpu().vram.set_missing({2, 3});
  EXPECT_EQ(a.inspector->missing_count(), 2u);
  EXPECT_TRUE(a.inspector->missing(3));
  EXPECT_FALSE(a.inspector->missing(4));
  a.gpu().vram.place_page(3, 77);
  ASSERT_EQ(a.inspector->placed().size(), 1u);
  EXPECT_EQ(a.inspector->placed()[0], (std::pair<uint64_t, uint64_t>{3, 77}));
}

TEST(GpuInspector, CloneCopiesMemoryStateAndTheGuestDriver) {
  Built src("src", 3), ref("ref", 4);
  sc_core::sc_start(sc_core::sc_time(30, sc_core::SC_MS));
  ASSERT_GT(src.inspector->work_done(), 0u);
  EXPECT_EQ(src.inspector->work_done(), src.device->engine_pages_done());
  ref.device->set_running(false);
  src.device->set_running(false);
  ASSERT_FALSE(src.inspector->compare(*ref.inspector).equal());
  ref.inspector->clone_from(*src.inspector);
  EXPECT_TRUE(src.inspector->compare(*ref.inspector).equal());
  EXPECT_EQ(ref.inspector->state_hash(), src.inspector->state_hash());
  EXPECT_EQ(ref.workload().state(), src.workload().state());
}

TEST(GpuInspector, ResumeAndStopTogether) {
  Built a("a"), b("b");
  a.inspector->stop_together_with(*b.inspector);
  EXPECT_FALSE(a.inspector->running());
  EXPECT_FALSE(b.inspector->running());
  a.inspector->resume();
  EXPECT_TRUE(a.device->running());
  EXPECT_FALSE(b.device->running());
}

class OtherDriver : public GuestDriver {
 public:
  void set_guest_running(bool) override {}
  bool guest_running() const override { return true; }
};

TEST(GpuInspector, TheFactoryRefusesADriverOfAnotherType) {
  Built a("a");
  OtherDriver other;
  EXPECT_THROW(make_inspector(*a.device, other), std::invalid_argument);
  EXPECT_THROW(copy_guest_driver_state(*a.device, *a.driver, other), std::invalid_argument);
}

TEST(GpuInspector, CopyGuestDriverStateCopiesTheWorkloadPosition) {
  Built a("a", 5), b("b", 5);
  b.driver->set_guest_running(false);
  sc_core::sc_start(sc_core::sc_time(20, sc_core::SC_MS));
  ASSERT_GT(a.workload().state().submitted_writes, 0u);
  ASSERT_NE(b.workload().state(), a.workload().state());
  copy_guest_driver_state(*b.device, *b.driver, *a.driver);
  EXPECT_EQ(b.workload().state(), a.workload().state());
}

}  // namespace
}  // namespace mdevsim::models
