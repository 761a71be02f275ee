// The guest driver using the device: turns a WorkloadSpec into commands in
// the context rings and rings doorbells over the BAR0 TLM socket.
//
// Its progress (how much work it has submitted, over how much guest running
// time) is guest state: it migrates with the VM, not with the device. It only
// advances while the guest runs, and it never submits to a stopped device —
// work due meanwhile waits in the driver (its backlog).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/workload/workload_pattern.h"

namespace mdevsim::models {

struct DriverState {
  uint64_t active_ticks = 0;      // submit intervals the guest has run
  uint64_t submitted_writes = 0;  // VRAM page writes handed to the device (first pattern)
  // The further streams' positions: other patterns' writes, then reads
  // (the order of make_page_streams, from its second stream on).
  std::vector<uint64_t> submitted_streams;
  uint64_t submitted_dma = 0;      // guest pages handed to the DMA engine
  uint64_t submitted_uploads = 0;  // guest pages the DMA engine reads into VRAM
  uint64_t commands = 0;
  uint32_t next_context = 0;
  bool operator==(const DriverState&) const = default;
};

class WorkloadDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(WorkloadDriver);
  tlm_utils::simple_initiator_socket<WorkloadDriver> socket;

  WorkloadDriver(sc_core::sc_module_name name, GpuDevice& device, const WorkloadSpec& spec,
                 uint64_t seed);

  void set_guest_running(bool running) { guest_running_ = running; }
  bool guest_running() const { return guest_running_; }
  const DriverState& state() const { return state_; }
  void load_state(const DriverState& s) { state_ = s; }
  // VRAM page operations (writes and reads) due but not yet submitted.
  uint64_t backlog() const;
  double active_time_s() const { return state_.active_ticks * interval_s_; }
  const PageWriteGenerator& generator() const { return streams_[0].gen; }
  const std::vector<PageStream>& streams() const { return streams_; }

 private:
  void thread();
  void submit_due();
  bool ring_has_space(uint32_t ctx);
  uint64_t& submitted(size_t stream) {
    return stream == 0 ? state_.submitted_writes : state_.submitted_streams[stream - 1];
  }
  uint64_t submitted(size_t stream) const {
    return stream == 0 ? state_.submitted_writes : state_.submitted_streams[stream - 1];
  }
  uint32_t mmio_read(uint32_t offset);
  void mmio_write(uint32_t offset, uint32_t value);

  GpuDevice& device_;
  WorkloadSpec spec_;
  std::vector<PageStream> streams_;  // streams_[0]: the first pattern's writes
  std::vector<uint64_t> due_;        // per stream, scratch of submit_due()
  uint64_t seed_;
  double interval_s_;
  double dma_pages_per_s_;
  double upload_pages_per_s_;
  bool guest_running_ = true;
  DriverState state_;
};

}  // namespace mdevsim::models
