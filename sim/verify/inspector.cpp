#include "verify/inspector.h"

#include "mdevsim/sim/host.h"

namespace mdevsim::sim::verify {

models::DeviceDiff DeviceInspector::compare(const DeviceInspector& a, const DeviceInspector& b,
                                            size_t max_listed) {
  return models::compare_devices(a.host_.device, b.host_.device, max_listed);
}
const models::PageStore& DeviceInspector::vram() const { return host_.device.vram.store(); }
const models::PageStore& DeviceInspector::ram() const { return host_.ram.store; }
bool DeviceInspector::vram_missing(uint64_t page) const { return host_.device.vram.missing(page); }
bool DeviceInspector::ram_missing(uint64_t page) const { return host_.ram.missing.test(page); }
uint64_t DeviceInspector::vram_missing_count() const { return host_.device.missing_pages(); }
uint64_t DeviceInspector::ram_missing_count() const { return host_.ram.missing.count(); }
uint64_t DeviceInspector::device_state_hash() const { return host_.device.state_hash(); }
bool DeviceInspector::device_and_vcpus_running() const {
  return host_.device.running() && host_.vcpus.running();
}
std::pair<uint64_t, uint64_t> DeviceInspector::work() const {
  return {host_.device.engine_pages_done(), host_.vcpus.state().submitted};
}
const std::vector<std::pair<uint64_t, uint64_t>>& DeviceInspector::vram_placed() const {
  return host_.device.vram.placed();
}
const std::vector<double>& DeviceInspector::vram_stalls() const {
  return host_.device.vram.stalls();
}
const std::vector<double>& DeviceInspector::ram_stalls() const {
  return host_.ram.missing.stalls();
}
uint64_t DeviceInspector::vram_faults() const { return host_.device.vram.faults(); }
uint64_t DeviceInspector::ram_faults() const { return host_.ram.missing.faults(); }
const std::vector<models::MissingPages::FaultRecord>& DeviceInspector::vram_fault_log() const {
  return host_.device.vram.fault_log();
}
const std::vector<models::MissingPages::FaultRecord>& DeviceInspector::ram_fault_log() const {
  return host_.ram.missing.fault_log();
}

void DeviceInspector::clone_from(const DeviceInspector& src) {
  Host& s = src.host_;
  host_.ram.store.clear();
  s.ram.store.for_each_touched([&](uint64_t p, uint64_t t) { host_.ram.store.set_token(p, t); });
  auto& rv = host_.device.vram.store();
  rv.clear();
  s.device.vram.store().for_each_touched([&](uint64_t p, uint64_t t) { rv.set_token(p, t); });
  host_.device.apply_state(s.device.capture_state());
  host_.driver.load_state(s.driver.state());
  host_.vcpus.load_state(s.vcpus.state());
}

void DeviceInspector::resume_for_continuation() {
  host_.device.set_running(true);
  host_.set_vm_running(true);
}

void DeviceInspector::set_vm_running(bool r) { host_.set_vm_running(r); }

void DeviceInspector::stop_together(DeviceInspector& a, DeviceInspector& b) {
  models::stop_together({&a.host_.device, &b.host_.device});
}

}  // namespace mdevsim::sim::verify
