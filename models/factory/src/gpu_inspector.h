// The GPU's DeviceInspector (device_inspector.h), for the factory.
#pragma once

#include <memory>

#include "mdevsim/models/factory/device_inspector.h"
#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_driver.h"

namespace mdevsim::models {

std::unique_ptr<DeviceInspector> make_gpu_inspector(GpuDevice& device, WorkloadDriver& driver);

}  // namespace mdevsim::models
