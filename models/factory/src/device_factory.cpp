#include "mdevsim/models/factory/device_factory.h"

#include <stdexcept>
#include <type_traits>

#include "gpu_inspector.h"
#include "mdevsim/models/common/quantum.h"
#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"

namespace mdevsim::models {

namespace {
GpuDevice& as_gpu(Device& device) {
  auto* gpu = dynamic_cast<GpuDevice*>(&device);
  if (gpu == nullptr)
    throw std::invalid_argument("the gpu workload driver needs a gpu device, not " + device.type());
  return *gpu;
}
template <typename Driver>
auto& as_workload_driver(Driver& driver) {
  using Target = std::conditional_t<std::is_const_v<Driver>, const WorkloadDriver, WorkloadDriver>;
  auto* d = dynamic_cast<Target*>(&driver);
  if (d == nullptr) throw std::invalid_argument("a gpu device needs the gpu workload driver");
  return *d;
}

const DeviceType& type_of(const Device& device) {
  const DeviceType* t = find_device_type(device.type());
  if (t == nullptr) throw std::invalid_argument("unknown device type \"" + device.type() + "\"");
  return *t;
}
}  // namespace

const std::vector<DeviceType>& device_types() {
  static const std::vector<DeviceType> types = {
      {std::string(kDefaultDeviceType),
       [](const std::string& name, const DeviceConfig& config) -> std::unique_ptr<Device> {
         return std::make_unique<GpuDevice>(name.c_str(), config);
       },
       [](const std::string& name, Device& device, const WorkloadSpec& workload,
          uint64_t seed) -> std::unique_ptr<GuestDriver> {
         return std::make_unique<WorkloadDriver>(name.c_str(), as_gpu(device), workload, seed);
       },
       [](Device& device, GuestDriver& driver) {
         return make_gpu_inspector(as_gpu(device), as_workload_driver(driver));
       },
       [](GuestDriver& to, const GuestDriver& from) {
         as_workload_driver(to).load_state(as_workload_driver(from).state());
       }},
  };
  return types;
}

const DeviceType* find_device_type(std::string_view type) {
  for (const DeviceType& t : device_types())
    if (t.name == type) return &t;
  return nullptr;
}

std::string device_type_names() {
  std::string out;
  for (const DeviceType& t : device_types()) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

std::unique_ptr<Device> make_device(std::string_view type, const std::string& name,
                                    const DeviceConfig& config) {
  const DeviceType* t = find_device_type(type);
  if (t == nullptr)
    throw std::invalid_argument("unknown device type \"" + std::string(type) +
                                "\" (known: " + device_type_names() + ")");
  set_default_quantum_if_unset();
  return t->make_device(name, config);
}

std::unique_ptr<GuestDriver> make_guest_driver(const std::string& name, Device& device,
                                               const WorkloadSpec& workload, uint64_t seed) {
  return type_of(device).make_driver(name, device, workload, seed);
}

std::unique_ptr<DeviceInspector> make_inspector(Device& device, GuestDriver& driver) {
  return type_of(device).make_inspector(device, driver);
}

void copy_guest_driver_state(const Device& device, GuestDriver& to, const GuestDriver& from) {
  type_of(device).copy_driver_state(to, from);
}

}  // namespace mdevsim::models
