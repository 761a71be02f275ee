// RunRecorder: what `mdevsim run` records while a run goes, for its outputs
// (--trace, --timeline, --report from the RunLog; --vcd live through a
// Waveform) and for the progress line on a terminal.
//
// The migration driver and the device-only run call its hooks through a
// pointer (RunOptions::recorder); a null pointer records nothing, so plain
// runs pay one branch per hook. Every hook that takes no time argument uses
// the current SystemC time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "mdevsim/sim/outputs.h"
#include "mdevsim/sim/run_log.h"
#include "mdevsim/sim/waveform.h"

namespace mdevsim::models {
class Device;
}

namespace mdevsim::sim {

struct Host;

struct RecorderOptions {
  bool record = false;    // fill RunRecorder::log (trace, timeline, report)
  std::string vcd;        // non-empty: write this VCD file while the run goes
  bool progress = false;  // the updating "sim 1.234 s ..." line on stderr
  // The progress line appears only once the run has taken this long (wall).
  double progress_after_s = 2.0;
  double progress_repaint_s = 0.1;  // at most one repaint per this much wall time
};

// Not a SystemC process: it adds no event to the simulation, so a run with
// outputs (or on a terminal) gives exactly the result of a plain run. (The
// models' order at equal timestamps depends on the whole timed-event queue:
// even one more periodic process changes some results.) Sampling (engines
// busy, the progress line) happens between slices of sc_start, in simulate().
class RunRecorder {
 public:
  // Construct during elaboration (before the first sc_start): the Waveform
  // must exist before the simulation starts.
  explicit RunRecorder(RecorderOptions options);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  // sc_start() until the model stops (sc_stop) or runs out of events, in
  // slices of 1 ms of simulated time (10 ms without a VCD), sampling between
  // them. Without a VCD and a progress line: one plain sc_start().
  void simulate();
  // sc_start(duration), in the same slices.
  void simulate_for(const sc_core::sc_time& duration);

  RunLog log;
  bool recording() const { return opt_.record; }
  Waveform* waveform() { return wf_.get(); }

  // ---- elaboration
  // A migration: both frontends report their calls (ABI trace, state visits,
  // VCD device states) and both devices' engines are sampled every 1 ms. The
  // hosts must not outlive the recorder (their frontends keep a pointer to
  // its observers); run_migration's hosts do not.
  void attach(Host& src, Host& dst);
  // A device-only run: the one device's engines (as the source).
  void attach_device(models::Device& device);

  // ---- generic records
  void phase(const std::string& track, const std::string& name, double start_s, double end_s);
  void counter(const std::string& name, double t_s, double value);
  void downtime(double t0_s, double t1_s);
  void device_state(bool source, uint32_t value);  // VCD only

  // ---- driver hooks
  // A phase on "src migration" from construction to destruction; also what
  // the progress line shows. `iteration` < 0: not an iteration.
  class Scope {
   public:
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    friend class RunRecorder;
    enum class Kind { kSetup, kIteration, kLink };
    Scope(RunRecorder* r, Kind k, int64_t iteration, const char* what);
    RunRecorder* r_;
    Kind kind_;
    int64_t iteration_;
    double start_s_ = 0;
  };
  static Scope setup_scope(RunRecorder* r);
  static Scope iteration_scope(RunRecorder* r, uint32_t index);
  // Transfers on the link made while the scope lives form one span `what`
  // ("RAM pages", "device data", ...); a scope that begins where the
  // previous span of the same name ended extends it.
  static Scope link_scope(RunRecorder* r, const char* what);

  // Link::transfer: `bytes_left` of the current transfer are still to go.
  void link_progress(double t_s, double bytes_left);
  // After an iteration's sync: counters "dirty pages" and "remaining bytes".
  void sync(double t_s, uint64_t dirty_pages, uint64_t remaining_bytes);
  // The same, from the VMM: its RAM's dirty pages and the device's dirty
  // bytes (the VMM knows no device page size; the recorder sees the device).
  void sync(double t_s, uint64_t ram_dirty_pages, uint64_t device_dirty_bytes,
            uint64_t remaining_bytes);
  // The source VM stopped (switchover begins).
  void vm_stopped(double t_s);
  // Switchover done: "stop-and-copy" [t_stop, t_resume] on the source,
  // "resume" [t_resume, t_stop + downtime] on the destination, vm "downtime"
  // [t_stop, t_stop + downtime].
  void switchover(double t_stop_s, double t_resume_s, double downtime_s);
  // The driver is done (inside the simulation, before sc_stop).
  void finish(double t_s);

  // After the last sc_start: device-state spans from the state visits, the
  // VCD closed, the progress line cleared. Idempotent.
  void close();

  static constexpr const char* kRamPages = "RAM pages";
  static constexpr const char* kDeviceData = "device data";

 private:
  class HostObserver : public vfio::CallObserver {
   public:
    HostObserver(RunRecorder& r, vfio::Frontend& f, bool source);
    void on_call(const vfio::CallRecord& record) override;
    AbiRecorder& abi() { return abi_; }

   private:
    RunRecorder& r_;
    vfio::Frontend& f_;
    bool source_;
    AbiRecorder abi_;
  };

  // The destination's write() of device bytes happens, in the trace, when
  // the bytes arrive: the driver hands them over before moving them over
  // the link, so the record waits for the end of that transfer.
  struct HeldWrite {
    HostObserver* host;
    vfio::CallRecord call;
    double read_at_s;
  };
  void release_held_writes(double t_s);

  sc_core::sc_time slice() const;
  bool sampling() const { return wf_ || opt_.progress; }
  void between_slices();
  void sample_engines();
  void print_progress(bool force);
  void clear_progress();
  void link_begin(const char* what);
  void link_end();

  RecorderOptions opt_;
  std::unique_ptr<Waveform> wf_;
  std::vector<std::unique_ptr<HostObserver>> observers_;
  struct Sampled {
    bool source;
    models::Device* device;
    uint64_t pages_done;  // engine pages done at the previous sample
  };
  std::vector<Sampled> devices_;

  // link spans
  std::vector<HeldWrite> held_writes_;
  const char* link_name_;
  bool link_fresh_ = true;
  bool link_in_scope_ = false;
  long link_open_ = -1;  // index in log.spans of the span being extended
  double link_counter_last_ = -1;

  // progress
  std::string phase_ = "running";
  int64_t iteration_ = -1;
  std::chrono::steady_clock::time_point wall_start_;
  std::chrono::steady_clock::time_point last_print_;
  size_t printed_ = 0;  // width of the line on screen; 0: nothing shown
  bool closed_ = false;
};

}  // namespace mdevsim::sim
