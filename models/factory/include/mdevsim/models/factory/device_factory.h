// The device types the simulator can build, keyed by the scenario's
// `device.type`. Adding a device type: implement models::Device (and a
// GuestDriver for its workload), then add one entry to device_types() in
// device_factory.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/gpu/device_config.h"

namespace mdevsim::models {

struct DeviceType {
  std::string name;
  std::function<std::unique_ptr<Device>(const std::string& name, const DeviceConfig& config)>
      make_device;
  // The guest driver that runs `workload` on a device of this type.
  std::function<std::unique_ptr<GuestDriver>(const std::string& name, Device& device,
                                             const WorkloadSpec& workload, uint64_t seed)>
      make_driver;
};

inline constexpr std::string_view kDefaultDeviceType = "gpu";

// Every known type, the default first.
const std::vector<DeviceType>& device_types();
const DeviceType* find_device_type(std::string_view type);
// "gpu" (the known types, comma separated, for error messages).
std::string device_type_names();

// Builds a device of `type`; std::invalid_argument for an unknown type or a
// configuration the type refuses. A simulation built without a TLM global
// quantum gets the models' default here (the devices never set it).
std::unique_ptr<Device> make_device(std::string_view type, const std::string& name,
                                    const DeviceConfig& config);
std::unique_ptr<GuestDriver> make_guest_driver(const std::string& name, Device& device,
                                               const WorkloadSpec& workload, uint64_t seed);

}  // namespace mdevsim::models
