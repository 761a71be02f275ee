// The device factory: the types it knows, what it builds for each, and its
// refusal of a type it does not know (naming the known ones).
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "mdevsim/models/factory/device_factory.h"

namespace mdevsim::models {
namespace {

DeviceConfig small() {
  DeviceConfig c;
  c.vram_bytes = 8 << 20;
  c.page_size = 64 * 1024;
  c.contexts = 2;
  return c;
}

TEST(DeviceFactory, KnowsGpuAsTheDefaultType) {
  ASSERT_FALSE(device_types().empty());
  EXPECT_EQ(device_types().front().name, "gpu");
  EXPECT_EQ(kDefaultDeviceType, "gpu");
  EXPECT_EQ(device_type_names(), "gpu");
  EXPECT_NE(find_device_type("gpu"), nullptr);
  EXPECT_EQ(find_device_type("GPU"), nullptr);
  EXPECT_EQ(find_device_type(""), nullptr);
}

TEST(DeviceFactory, BuildsAGpuWithTheConfiguredMemory) {
  const auto dev = make_device("gpu", "dev", small());
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->type(), "gpu");
  EXPECT_EQ(dev->memory().page_size(), 64u * 1024);
  EXPECT_EQ(dev->memory().page_count(), (8u << 20) / (64 * 1024));
  EXPECT_TRUE(dev->running());
  EXPECT_TRUE(dev->engines_idle());
  EXPECT_EQ(dev->engine_pages_done(), 0u);
}

TEST(DeviceFactory, RefusesAnUnknownTypeNamingTheKnownOnes) {
  try {
    make_device("fpga", "dev", small());
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "unknown device type \"fpga\" (known: gpu)");
  }
}

TEST(DeviceFactory, TwoDevicesOfOneConfigurationCompareEqualUntilOneIsWritten) {
  const auto a = make_device("gpu", "a", small());
  const auto b = make_device("gpu", "b", small());
  EXPECT_TRUE(a->compare(*b).equal());
  EXPECT_EQ(a->state_hash(), b->state_hash());
  a->memory().write(3, 1);
  const DeviceDiff d = a->compare(*b);
  EXPECT_EQ(d.vram_pages, 1u);
  EXPECT_EQ(d.first_vram_page, 3u);
  EXPECT_NE(a->state_hash(), b->state_hash());
}

TEST(DeviceFactory, BuildsTheGuestDriverOfTheDevicesType) {
  const auto dev = make_device("gpu", "dev", small());
  WorkloadSpec w;
  const auto drv = make_guest_driver("drv", *dev, w, 1);
  ASSERT_NE(drv, nullptr);
  EXPECT_TRUE(drv->guest_running());
  drv->set_guest_running(false);
  EXPECT_FALSE(drv->guest_running());
}

}  // namespace
}  // namespace mdevsim::models
