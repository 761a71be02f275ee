// The device types the simulator can build, keyed by the scenario's
// `device.type`. Adding a device type: implement models::Device (its stream
// can be the generic paged one, models/stream/paged_stream.h), a GuestDriver
// for its workload and a DeviceInspector for verification, then add one
// entry to device_types() in device_factory.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/factory/device_inspector.h"
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
  // What verification sees of a device of this type and its guest driver.
  std::function<std::unique_ptr<DeviceInspector>(Device& device, GuestDriver& driver)>
      make_inspector;
  // The guest driver's state (its position in the workload) copied from
  // another driver of this type: the guest's software migrates with the VM.
  std::function<void(GuestDriver& to, const GuestDriver& from)> copy_driver_state;
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
// By `device`'s type; std::invalid_argument if the driver is not its type's.
std::unique_ptr<DeviceInspector> make_inspector(Device& device, GuestDriver& driver);
void copy_guest_driver_state(const Device& device, GuestDriver& to, const GuestDriver& from);

}  // namespace mdevsim::models
