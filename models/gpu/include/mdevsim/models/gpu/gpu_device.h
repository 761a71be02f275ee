// The GPU-like device: top module binding registers, VRAM, engines, command
// processor and interrupt controller, and the device's side of migration.
#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/gpu/bar0_registers.h"
#include "mdevsim/models/gpu/command.h"
#include "mdevsim/models/gpu/device_config.h"
#include "mdevsim/models/gpu/engines.h"
#include "mdevsim/models/gpu/vram.h"
#include "mdevsim/models/memory/guest_memory_target.h"

namespace mdevsim::models {

// Everything that migrates except VRAM content.
struct DeviceState {
  RegisterState registers;
  std::vector<RingState> rings;
  std::vector<EngineState> engines;  // compute, copy, dma
  uint32_t next_context = 0;         // command processor round-robin position
  bool operator==(const DeviceState&) const = default;
};

class GpuDevice : public sc_core::sc_module, public Device {
 public:
  GpuDevice(sc_core::sc_module_name name, const DeviceConfig& config);
  ~GpuDevice() override;

  const DeviceConfig& config() const { return config_; }

  // Parts (public so tests and the simulator can observe them).
  RunControl run;
  Bar0Registers registers;
  Vram vram;
  InterruptController interrupts;
  ComputeEngine compute;
  CopyEngine copy;
  DmaEngine dma;
  std::vector<RingState> rings;
  CommandProcessor command_processor;

  // Ring memory slot the driver fills before ringing the doorbell.
  Command& ring_slot(uint32_t ctx, uint32_t slot) { return rings[ctx].entries[slot]; }

  // Device
  std::string type() const override { return "gpu"; }
  void bind_guest_memory(GuestMemoryTarget& memory) override { dma.bind_guest_memory(memory); }
  bool engines_idle() const override;
  // Pages of work all engines have done (cheap: post-copy samples it every ms).
  uint64_t engine_pages_done() const override {
    return compute.state().pages_done + copy.state().pages_done + dma.state().pages_done;
  }
  PageStore& memory() override { return vram.store(); }
  const PageStore& memory() const override { return vram.store(); }
  DeviceDiff compare(const Device& other, size_t max_listed = 16) const override;

  // MigratableDevice
  void set_running(bool running) override;
  bool running() const override { return run.running; }
  void set_p2p_quiesced(bool q) override { p2p_quiesced_ = q; }
  bool p2p_quiesced() const override { return p2p_quiesced_; }
  std::unique_ptr<SaveStream> open_save_stream() override;
  std::unique_ptr<ResumeStream> open_resume_stream() override;
  uint64_t full_image_bytes() const override;
  void reset() override;
  std::vector<GuestPageRange> pinned_guest_pages() const override;
  bool dma_logging_supported() const override { return true; }
  void dma_logging_start(uint64_t page_size) override;
  void dma_logging_stop() override;
  bool dma_logging_active() const override { return dma.logging(); }
  std::vector<uint64_t> dma_logging_report(uint64_t iova, uint64_t length,
                                           uint64_t page_size) override;
  std::string compatibility_string() const override;
  uint32_t mmio_size() const override { return registers.size_bytes(); }
  bool mmio_read(uint32_t offset, uint32_t& value) override {
    return registers.guest_read(offset, value);
  }
  bool mmio_write(uint32_t offset, uint32_t value) override {
    return registers.guest_write(offset, value);
  }
  std::vector<uint64_t> take_faults() override { return vram.take_faults(); }
  uint64_t missing_pages() const override { return vram.missing_count(); }
  void set_fault_notify(std::function<void()> notify) override {
    vram.set_fault_notify(std::move(notify));
  }
  uint64_t postcopy_page_record_bytes() const override;

  // State access for save/restore, verification and tests.
  DeviceState capture_state() const;
  std::vector<uint8_t> serialize_state() const;
  DeviceState parse_state(std::span<const uint8_t> blob) const;  // throws StateFormatError
  void apply_state(const DeviceState& s);
  // Hash of everything that migrates (internal state and VRAM content).
  uint64_t state_hash() const override;

 private:
  DeviceConfig config_;
  bool p2p_quiesced_ = false;
};

// Stops several devices at one and the same instant, then waits the longest
// stop latency once. Stopping them one after the other would let each later
// device run on for the earlier ones' stop latency (a migrated run and its
// reference must be frozen together to be compared).
void stop_together(std::initializer_list<GpuDevice*> devices);

// Field-by-field and page-by-page comparison (what verification reports).
DeviceDiff compare_devices(const GpuDevice& a, const GpuDevice& b, size_t max_listed = 16);

}  // namespace mdevsim::models
