// A VFIO device as a save handler (QEMU: hw/vfio/migration.c), one client
// per protocol family: the v1 migration region and the v2 device features
// with data fds. Both find the states they need by their attributes in the
// protocol file (vfio::ProtocolSpec: running, saving, resuming, error,
// p2p_quiesced, and each state's data rule), never by fixed values, so a
// renamed and renumbered copy of a protocol file drives them the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <systemc>

#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio/protocol.h"
#include "vmm/context.h"
#include "vmm/save_handler.h"

namespace mdevsim::sim::vmm {

// The states a VMM needs, found by attributes and data rule.
struct ProtocolRoles {
  const vfio::ProtocolSpec* spec = nullptr;
  std::optional<uint32_t> running, stop, precopy, precopy_p2p, stop_copy, resuming, running_p2p,
      error, serve, resume_running;
  static ProtocolRoles find(const vfio::ProtocolSpec& spec);
  std::string name_of(uint32_t value) const;  // the state's name in the file
};

// What the driver needs of a device's migration client (the clients below;
// tests/sim/vmm drives the driver with a fake one).
class VfioClient : public SaveHandler {
 public:
  VfioClient(MigrationContext& ctx, const vfio::ProtocolSpec& spec)
      : ctx_(ctx), roles_(ProtocolRoles::find(spec)) {}
  const char* name() const override { return "vfio"; }

  // Stops the source device for the switch: into its serving state
  // (`serve`: post-copy of device pages) or its stop-copy state.
  virtual bool stop_source(bool serve) = 0;
  // The destination runs the state it received (`postcopy`: while pages are
  // still missing). 0 or -errno.
  virtual long start_destination(bool postcopy) = 0;
  // After the downtime: the source device leaves its saving state.
  virtual void end_source_session() = 0;
  // Cancel: the source device back to running. 0 or -errno.
  virtual long run_source_again() = 0;
  virtual bool source_running() const = 0;
  virtual void reset_source() = 0;  // VFIO_DEVICE_RESET
  virtual void reset_destination() = 0;
  // The first arc from the source's current state towards stop-copy.
  virtual std::pair<uint32_t, uint32_t> next_switch_arc() const = 0;
  // device_error: the source's next arc fails with EIO.
  virtual void fail_next_arc(std::pair<uint32_t, uint32_t> arc) = 0;
  // The device bytes this iteration saw dirty, for the recorder.
  virtual uint64_t dirty_bytes_hint(const IterationResult& it) const = 0;
  // Moves what the source has queued until its stream pauses or ends.
  virtual bool send_all(uint64_t& bytes) = 0;
  // Post-copy (v2 proposals): requests, faults, serving.
  virtual bool request_pages(uint64_t first, uint64_t count, uint32_t flags, uint64_t& queued);
  // FAULTS: the faults raised since the last call; `missing` (when given)
  // receives the destination's count of pages still missing, and is left
  // alone when the call failed.
  virtual std::vector<uint64_t> read_faults(uint64_t* missing = nullptr);
  // What the destination says at the start of post-copy (one FAULTS call
  // with the proposal's extension, right after start_destination(true)).
  struct PostcopyAttach {
    uint64_t missing_pages = 0;    // device pages the destination lacks
    uint64_t record_bytes = 0;     // resume-stream bytes one such page takes
    std::vector<uint64_t> faults;  // faults already raised
    bool eventfd = false;          // the fault eventfd is set up
  };
  // `eventfd`: also ask for the fault eventfd (protocols whose faults are
  // signalled). False when the destination refused.
  virtual bool attach_postcopy(bool eventfd, PostcopyAttach& out);
  // The fault eventfd: readable now (a poll(2)), the event its signals
  // notify (null: no eventfd), and a read(2) that zeroes its count.
  virtual bool fault_signalled() { return false; }
  virtual const sc_core::sc_event* fault_wake() const { return nullptr; }
  virtual void clear_fault_signal() {}
  // Post-copy's two halves of moving page records, apart in time as on a
  // real wire: read_queued() reads everything the source has queued
  // (POSTCOPY_REQUEST) from its save fd into `out` (the VMM's buffer, which
  // then crosses the link); write_resume() writes such bytes to the
  // destination's resume fd when they arrive. False: failed (reason set).
  virtual bool read_queued(std::vector<uint8_t>& out);
  virtual bool write_resume(const std::vector<uint8_t>& bytes);
  // Device stream bytes the VMM has written to the destination's resume fd.
  virtual uint64_t bytes_delivered() const { return 0; }
  // End of post-copy: the source stops serving; true when the destination
  // left its running-while-resuming state.
  virtual bool finish_postcopy(bool device_pages);
  // The ABI calls and errnos of both sides, into the result.
  virtual void add_abi_counts(Result& r) const = 0;
  // ---- QEMU's loop (vmm/migration_thread.h)
  // Pre-copy bytes the device has now (PRECOPY_INFO initial + dirty; v1:
  // pending_bytes), and the initial part alone (switchover-ack).
  virtual uint64_t precopy_bytes() { return 0; }
  virtual uint64_t initial_bytes() { return 0; }
  // One save_live_iterate call: one read of at most `max` bytes sent
  // (default: the whole iteration). False: failed (reason set).
  virtual bool iterate_chunk(IterationResult& it, uint64_t max) {
    (void)max;
    return iterate(it);
  }

  const ProtocolRoles& roles() const { return roles_; }
  bool failed() const { return failed_; }

 protected:
  MigrationContext& ctx_;
  ProtocolRoles roles_;
  bool failed_ = false;  // it failed to stop
};

// A client over the source's and the destination's vfio::Frontend.
class FrontendClient : public VfioClient {
 public:
  FrontendClient(MigrationContext& ctx, vfio::Frontend& src, vfio::Frontend& dst,
                 const vfio::ProtocolSpec& spec)
      : VfioClient(ctx, spec), src_(src), dst_(dst) {}
  void reset_source() override { reset(src_); }
  void reset_destination() override { reset(dst_); }
  void fail_next_arc(std::pair<uint32_t, uint32_t> arc) override;
  bool send_all(uint64_t& bytes) override { return send(0, false, true, bytes); }
  void add_abi_counts(Result& r) const override;
  bool iterate_chunk(IterationResult& it, uint64_t max) override;

 protected:
  virtual bool send(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) = 0;
  void reset(vfio::Frontend& fe);
  void corrupt(uint8_t* data, uint64_t n);

  vfio::Frontend& src_;
  vfio::Frontend& dst_;
  bool precopy_ = false;  // the device saves while running
  uint64_t avail_ = 0;    // this iteration's pre-copy bytes
  // The read()/write() buffer of device data, kept between calls: post-copy
  // sends device data thousands of times, and a fresh buffer of one link slice
  // (up to hundreds of MiB, zero-filled) per call made exact runs take minutes.
  std::vector<uint8_t> buf_;
};

// Protocol v1: the migration region's device_state, pending_bytes,
// data_offset and data_size.
class V1RegionClient : public FrontendClient {
 public:
  using FrontendClient::FrontendClient;
  bool setup() override;
  void pending_estimate(IterationResult& it) override;
  bool iterate(IterationResult& it) override;
  uint64_t pending_exact() override;
  bool complete(StopCopyResult& sc) override;
  bool stop_source(bool serve) override;
  long start_destination(bool postcopy) override;
  void end_source_session() override;
  long run_source_again() override;
  bool source_running() const override;
  std::pair<uint32_t, uint32_t> next_switch_arc() const override;
  uint64_t dirty_bytes_hint(const IterationResult&) const override { return pending_hint_; }
  uint64_t precopy_bytes() override;

 private:
  bool send(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) override;
  long write_state(vfio::Frontend& fe, uint32_t v);
  uint64_t rd64(vfio::Frontend& fe, uint64_t off, long* err = nullptr);
  uint64_t pending_hint_ = 0;
};

// Protocol v2 and proposals of its kind: MIG_DEVICE_STATE, data fds,
// PRECOPY_INFO, MIG_DATA_SIZE, and the post-copy ioctls of the proposals.
class V2FeatureClient : public FrontendClient {
 public:
  V2FeatureClient(MigrationContext& ctx, vfio::Frontend& src, vfio::Frontend& dst,
                  const vfio::ProtocolSpec& spec, std::vector<std::string> features);
  bool setup() override;
  void pending_estimate(IterationResult& it) override;
  bool iterate(IterationResult& it) override;
  uint64_t pending_exact() override;
  bool complete(StopCopyResult& sc) override;
  bool stop_source(bool serve) override;
  long start_destination(bool postcopy) override;
  void end_source_session() override;
  long run_source_again() override;
  bool source_running() const override;
  std::pair<uint32_t, uint32_t> next_switch_arc() const override;
  uint64_t dirty_bytes_hint(const IterationResult& it) const override {
    return it.device_dirty_bytes;
  }
  bool request_pages(uint64_t first, uint64_t count, uint32_t flags, uint64_t& queued) override;
  std::vector<uint64_t> read_faults(uint64_t* missing = nullptr) override;
  bool attach_postcopy(bool eventfd, PostcopyAttach& out) override;
  bool fault_signalled() override;
  const sc_core::sc_event* fault_wake() const override {
    return fault_fd_ >= 0 ? &fault_wake_ : nullptr;
  }
  void clear_fault_signal() override;
  bool read_queued(std::vector<uint8_t>& out) override;
  bool write_resume(const std::vector<uint8_t>& bytes) override;
  uint64_t bytes_delivered() const override { return delivered_; }
  bool finish_postcopy(bool device_pages) override;
  uint64_t precopy_bytes() override;
  uint64_t initial_bytes() override;

 private:
  bool send(uint64_t limit, bool limited, bool until_end, uint64_t& bytes) override;
  long set_state(vfio::Frontend& fe, uint32_t state, int* fd = nullptr);
  std::vector<std::string> features_;
  int save_fd_ = -1, resume_fd_ = -1;
  int fault_fd_ = -1;             // the destination's fault eventfd
  sc_core::sc_event fault_wake_;  // poll(2) on it: notified by its signals
  uint64_t delivered_ = 0;
};

// The client for a scenario's protocol ("v1": the region; else v2-style).
std::unique_ptr<VfioClient> make_vfio_client(MigrationContext& ctx, vfio::Frontend& src,
                                             vfio::Frontend& dst);

}  // namespace mdevsim::sim::vmm
