#include "verify/inspector.h"

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/sim/host.h"

namespace mdevsim::sim::verify {

HostInspector::HostInspector(Host& h)
    : host_(h), device_(models::make_inspector(h.model(), h.guest_driver())) {}
HostInspector::~HostInspector() = default;

const models::PageStore& HostInspector::ram() const { return host_.ram.store; }
bool HostInspector::ram_missing(uint64_t page) const { return host_.ram.missing.test(page); }
uint64_t HostInspector::ram_missing_count() const { return host_.ram.missing.count(); }
const std::vector<double>& HostInspector::ram_stalls() const { return host_.ram.missing.stalls(); }
uint64_t HostInspector::ram_faults() const { return host_.ram.missing.faults(); }
const std::vector<models::MissingPages::FaultRecord>& HostInspector::ram_fault_log() const {
  return host_.ram.missing.fault_log();
}
bool HostInspector::device_and_vcpus_running() const {
  return device_->running() && host_.vcpus.running();
}
std::pair<uint64_t, uint64_t> HostInspector::work() const {
  return {device_->work_done(), host_.vcpus.state().submitted};
}

void HostInspector::clone_from(const HostInspector& src) {
  host_.ram.store.clear();
  src.host_.ram.store.for_each_touched(
      [&](uint64_t p, uint64_t t) { host_.ram.store.set_token(p, t); });
  device_->clone_from(*src.device_);
  host_.vcpus.load_state(src.host_.vcpus.state());
}

void HostInspector::resume_for_continuation() {
  device_->resume();
  host_.set_vm_running(true);
}

void HostInspector::set_vm_running(bool r) { host_.set_vm_running(r); }

void HostInspector::stop_together(HostInspector& a, HostInspector& b) {
  a.device_->stop_together_with(*b.device_);
}

}  // namespace mdevsim::sim::verify
