#include "gpu_inspector.h"

#include <stdexcept>
#include <utility>

namespace mdevsim::models {

namespace {

class GpuInspector final : public DeviceInspector {
 public:
  GpuInspector(GpuDevice& device, WorkloadDriver& driver) : dev_(device), driver_(driver) {}

  DeviceDiff compare(const DeviceInspector& other, size_t max_listed) const override {
    if (const auto* gpu = dynamic_cast<const GpuInspector*>(&other))
      return compare_devices(dev_, gpu->dev_, max_listed);
    return dev_.compare(other.device(), max_listed);  // a configuration difference
  }
  const Device& device() const override { return dev_; }
  uint64_t state_hash() const override { return dev_.state_hash(); }
  bool running() const override { return dev_.running(); }
  uint64_t work_done() const override { return dev_.engine_pages_done(); }
  const PageStore& memory() const override { return dev_.vram.store(); }

  bool missing(uint64_t page) const override { return dev_.vram.missing(page); }
  uint64_t missing_count() const override { return dev_.vram.missing_count(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& placed() const override {
    return dev_.vram.placed();
  }
  const std::vector<double>& stalls() const override { return dev_.vram.stalls(); }
  uint64_t faults() const override { return dev_.vram.faults(); }
  const std::vector<MissingPages::FaultRecord>& fault_log() const override {
    return dev_.vram.fault_log();
  }

  void clone_from(const DeviceInspector& source) override {
    const GpuInspector& src = as_gpu(source);
    auto& vram = dev_.vram.store();
    vram.clear();
    src.dev_.vram.store().for_each_touched([&](uint64_t p, uint64_t t) { vram.set_token(p, t); });
    dev_.apply_state(src.dev_.capture_state());
    driver_.load_state(src.driver_.state());
  }
  void resume() override { dev_.set_running(true); }
  void stop_together_with(DeviceInspector& other) override {
    stop_together({&dev_, &as_gpu(other).dev_});
  }

 private:
  // Cloning and stopping together pair two devices of one type.
  static const GpuInspector& as_gpu(const DeviceInspector& other);
  static GpuInspector& as_gpu(DeviceInspector& other) {
    return const_cast<GpuInspector&>(as_gpu(std::as_const(other)));
  }

  GpuDevice& dev_;
  WorkloadDriver& driver_;
};

const GpuInspector& GpuInspector::as_gpu(const DeviceInspector& other) {
  const auto* gpu = dynamic_cast<const GpuInspector*>(&other);
  if (gpu == nullptr)
    throw std::logic_error("a gpu device paired with a " + other.device().type() + " device");
  return *gpu;
}

}  // namespace

std::unique_ptr<DeviceInspector> make_gpu_inspector(GpuDevice& device, WorkloadDriver& driver) {
  return std::make_unique<GpuInspector>(device, driver);
}

}  // namespace mdevsim::models
