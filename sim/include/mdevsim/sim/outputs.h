// Writers for the outputs of `mdevsim run` that are made from a RunLog:
//   --trace     an annotated, strace-like ABI trace (docs/abi-trace.md)
//   --timeline  Chrome/Perfetto trace-event JSON (docs/timeline.md)
// (--vcd is written live during simulation by sim::Waveform, waveform.h.)
//
// And AbiRecorder, the CallObserver that fills RunLog::abi and RunLog::states
// while a run goes.
#pragma once

#include <ostream>
#include <string>

#include "mdevsim/sim/result.h"
#include "mdevsim/sim/run_log.h"
#include "mdevsim/vfio/frontend.h"

namespace mdevsim::sim {

// One line per RunLog::abi entry, in the order recorded:
//   "   0.500000000 src ioctl(device, VFIO_DEVICE_FEATURE(SET MIG_DEVICE_STATE),
//    {device_state=PRE_COPY}) = 0 [RUNNING -> PRE_COPY] data_fd=5  # notes"
// The format is stable; docs/abi-trace.md describes each field.
void write_abi_trace(const RunLog& log, std::ostream& out);

// One line of the ABI trace, without the trailing newline (for `mdevsim step`
// style tools and tests).
std::string format_abi_line(const AbiEvent& event);

// Trace-event JSON ({"traceEvents": [...], "displayTimeUnit": "ms",
// "otherData": {...}}) that ui.perfetto.dev and chrome://tracing open.
void write_timeline(const RunLog& log, const Result& result, std::ostream& out);

// Appends every call of one host's frontend to log.abi, stamped with the
// SystemC time of the call, and every device state entered to log.states.
// Records whether or not log.enabled is set: attach it only when wanted.
class AbiRecorder : public vfio::CallObserver {
 public:
  AbiRecorder(RunLog& log, std::string host) : log_(log), host_(std::move(host)) {}
  void on_call(const vfio::CallRecord& record) override;
  // The same, stamped with `t_s` instead of the current time (a call whose
  // record is held until the time it stands for, e.g. a destination write
  // of device bytes still on the link).
  void record_at(const vfio::CallRecord& record, double t_s);

 private:
  RunLog& log_;
  std::string host_;
};

}  // namespace mdevsim::sim
