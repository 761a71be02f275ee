// The migration driver (QEMU: migration/migration.c's thread): setup of every
// save handler, pre-copy iterations until the switchover rule fires
// (vmm/convergence.h), stop-and-copy or the post-copy switch, resume on the
// destination, post-copy fault service and background push, cancel, and the
// result's account of it. It reaches devices only through the VFIO ABI
// (vmm/vfio_client.h) and its own VM through vmm/ports.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/scenario.h"
#include "net/link.h"
#include "vmm/context.h"
#include "vmm/observer.h"
#include "vmm/ports.h"
#include "vmm/ram_saver.h"
#include "vmm/vfio_client.h"

namespace mdevsim::sim {
class RunRecorder;
}

namespace mdevsim::sim::vmm {

// One side of the migration as the VMM sees it (frontend null: the device
// client comes from a ClientFactory; tests).
struct VmmSide {
  vfio::Frontend* frontend;
  GuestRamPort& ram;
  VmPort& vm;
};

using ClientFactory = std::function<std::unique_ptr<VfioClient>(MigrationContext&)>;

class MigrationDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(MigrationDriver);
  MigrationDriver(sc_core::sc_module_name n, const Scenario& s, RunRecorder* recorder, bool exact,
                  VmmSide src, VmmSide dst, MigrationObserver& observer, Result& result,
                  const ClientFactory& make_client = {});

 private:
  void run();
  void inject_device_errors();
  bool setup();
  bool iterate(IterationResult& it);
  bool switchover(bool forced);
  bool switchover_postcopy();
  bool run_postcopy();
  void finish_postcopy();
  // Post-copy's concurrent parts (run_postcopy is the main stream): the
  // fault service at the destination, requests travelling to the source,
  // the requested pages' own channel (postcopy-preempt), the 1 ms sampler,
  // and the link's propagation delay (pages placed one latency after they
  // leave).
  void pc_fault_service();
  void pc_preempt_sender();
  void pc_sampler();
  void pc_timer();
  // Runs `action` `delay_s` from now; actions run in time order, ties in
  // the order they were scheduled (deterministic). Actions never wait.
  void pc_at(double delay_s, std::function<void()> action);
  bool pc_requested_pending() const;
  bool pc_send_requested(net::Link::Channel& channel);
  bool pc_send_device(net::Link::Channel& channel);
  bool pc_send_ram(const std::vector<uint64_t>& pages, net::Link::Channel& channel);
  uint64_t pc_device_unsent() const;  // at the source (missing, less what is in flight)
  void pc_stop_threads();
  // Device pages the destination still lacks, as the VMM knows it: the
  // last FAULTS `missing`, less the page records written to the resume fd
  // since (QEMU keeps its own received bitmap likewise).
  uint64_t device_missing() const;
  void note_device_missing(uint64_t missing);
  void cancel(const std::string& why, const std::string& outcome = "cancelled");
  void finish(double t0, double t_end = -1);
  void end_postcopy_lost(double t0);
  const vfio::ProtocolSpec& proto() const;

  Result& result;
  const Scenario& s_;
  RunRecorder* recorder_;
  VmmSide src_, dst_;
  MigrationObserver& observer_;
  net::Link link_;
  MigrationContext ctx_;
  std::unique_ptr<RamSaver> ram_;
  std::unique_ptr<VfioClient> device_;
  std::vector<SaveHandler*> handlers_;      // registration order: RAM, then the device
  std::vector<size_t> device_error_order_;  // device_error faults by time (a member: see .cpp)
  double switched_at_ = 0;
  bool ended_ = false;
  // Post-copy figures.
  double pc_t_stop_ = 0;
  uint64_t pc_missing_vram_at_switch_ = 0, pc_missing_ram_at_switch_ = 0;
  uint64_t pc_bytes_ = 0, pc_device_bytes_ = 0;
  uint64_t pc_unreceived_vram_ = 0, pc_unreceived_ram_ = 0;  // when post-copy ended
  // The destination's post-copy ABI answers (vmm::VfioClient::attach_postcopy).
  uint64_t pc_record_bytes_ = 0;           // one device page on the resume stream
  uint64_t pc_vram_missing_ = 0;           // the last FAULTS `missing` ...
  uint64_t pc_delivered_mark_ = 0;         // ... and the bytes delivered when it came
  std::vector<uint64_t> pc_early_faults_;  // raised before the service loop
  // The concurrent parts' state.
  std::map<std::pair<sc_core::sc_time, uint64_t>, std::function<void()>> pc_timed_;
  uint64_t pc_timed_seq_ = 0;
  sc_core::sc_event pc_timed_added_, pc_requests_arrived_, pc_arrived_, pc_done_event_;
  bool pc_done_ = false, pc_failed_ = false;
  uint64_t pc_requested_device_pages_ = 0;  // queued at the source by requests, not yet read
  uint64_t pc_device_in_flight_ = 0;        // bytes read from the save fd, not yet written
  size_t pc_preempt_channel_ = 0;           // postcopy_preempt: the requested pages' channel
};

}  // namespace mdevsim::sim::vmm
