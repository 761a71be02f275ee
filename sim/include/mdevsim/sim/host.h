// One host of the simulated pair: a VM (guest RAM and vCPUs that dirty it),
// the device the scenario's device.type names (built by the device factory)
// with its guest driver, and the device's VFIO frontend.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/memory/guest_memory.h"
#include "mdevsim/models/memory/guest_memory_target.h"
#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"
#include "mdevsim/models/workload/workload_pattern.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/vfio/frontend.h"

namespace mdevsim::sim {

// Guest RAM. vCPU writes go through the dirty log (KVM dirty logging); device
// DMA writes do not — the VMM learns of those only through VFIO.
class GuestRam : public models::GuestMemory {
 public:
  GuestRam(uint64_t bytes, uint32_t page_size) : store(bytes, page_size) {}
  void dma_write_page(uint64_t gpa_page, uint64_t value) override {
    if (gpa_page >= store.page_count()) return;
    missing.fill(gpa_page);  // device DMA writes whole pages: no fetch needed
    store.write_untracked(gpa_page, value);
  }
  uint64_t dma_read_page(uint64_t gpa_page) const override {
    return gpa_page < store.page_count() ? store.token(gpa_page) : 0;
  }
  // Option P2: a DMA read of a page still at the source faults like a vCPU
  // touch; the VMM serves it from the same fault queue.
  void dma_touch_page(uint64_t gpa_page) override { missing.touch(gpa_page); }
  bool dma_may_fault() const override { return missing.count() > 0; }
  models::PageStore store;
  // Post-copy destination: pages still at the source (QEMU's userfaultfd:
  // a vCPU touching one blocks until the VMM places it).
  models::MissingPages missing;
  bool place(uint64_t page, uint64_t token) {
    if (!missing.test(page)) return false;
    store.set_token(page, token);
    return missing.fill(page);
  }
};

// The vCPUs' memory writes: a page-write pattern advanced by guest running
// time, slowed by the auto-converge throttle.
struct VcpuState {
  double active_s = 0;     // guest time the vCPUs have run
  uint64_t submitted = 0;  // page operations done (writes, and reads), all patterns
  // Position of each stream (make_page_streams order); one pattern without
  // reads: {submitted}.
  std::vector<uint64_t> streams;
  bool operator==(const VcpuState&) const = default;
};

class Vcpus : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Vcpus);
  Vcpus(sc_core::sc_module_name name, GuestRam& ram,
        const std::vector<models::PatternSpec>& patterns, uint64_t seed);
  void set_running(bool r) { running_ = r; }
  bool running() const { return running_; }
  void set_throttle(double p) { throttle_ = p; }
  double throttle() const { return throttle_; }
  const VcpuState& state() const { return state_; }
  void load_state(const VcpuState& s) { state_ = s; }

 private:
  void thread();
  GuestRam& ram_;
  std::vector<models::PageStream> streams_;
  std::vector<uint64_t> seeds_;  // the values each write stream folds in
  bool running_ = true;
  double throttle_ = 0;
  VcpuState state_;
};

// The host as a module: guest RAM (with its TLM face, which the device's
// DMA is bound to), the device and its guest driver, the vCPUs and the
// frontend are its parts and live as long as it does.
class Host : public sc_core::sc_module {
  // First: built before the frontend refers to it.
  std::unique_ptr<models::Device> device_;
  std::unique_ptr<models::GuestDriver> driver_;

 public:
  Host(sc_core::sc_module_name name, const Scenario& s, bool source);

  GuestRam ram;
  models::GuestMemoryTarget ram_port;  // guest RAM as the device DMA's TLM target
  // The device as every device type is seen (the frontend sees only its
  // MigratableDevice part).
  models::Device& model() { return *device_; }
  const models::Device& model() const { return *device_; }
  models::GuestDriver& guest_driver() { return *driver_; }
  const models::GuestDriver& guest_driver() const { return *driver_; }
  Vcpus vcpus;
  vfio::Frontend frontend;

  // The whole VM runs or pauses (vCPUs and the guest driver).
  void set_vm_running(bool r) {
    vcpus.set_running(r);
    driver_->set_guest_running(r);
  }
  // The guest's state (vCPUs and its device driver) becomes `source`'s: the
  // VM's CPU state migrating, or a reference cloned from the source.
  void load_guest_state_from(const Host& source);
};

vfio::FrontendOptions frontend_options(const Scenario& s, bool source);

}  // namespace mdevsim::sim
