// The --vcd output: a few signals of a run as a VCD waveform (GTKWave,
// Surfer), written by SystemC's own tracer while the simulation runs.
//
// Construct it during elaboration (before the first sc_start): SystemC only
// accepts sc_trace calls then. The setters write sc_signals, so a value set at
// time t shows up at #t (in nanoseconds) once its delta cycle ends; several
// writes in the same delta keep the last one.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>

namespace mdevsim::sim {

class Waveform : public sc_core::sc_module {
 public:
  // Several host and link processes may drive the same signal (never in the
  // same delta cycle), so the one-writer check is relaxed.
  template <typename T>
  using Signal = sc_core::sc_signal<T, sc_core::SC_MANY_WRITERS>;

  // Writes exactly `path` (SystemC itself would add ".vcd" to any name).
  Waveform(sc_core::sc_module_name name, const std::string& path);
  ~Waveform() override;

  // Device protocol state: the v2 enum value (RUNNING = 2, ...) or the v1
  // device_state bits (_RUNNING|_SAVING = 0b011).
  void set_device_state(bool source, uint32_t state);
  void set_engine_busy(bool source, bool busy);
  void set_dirty_pages(uint64_t pages);
  void set_link_bytes_in_flight(uint64_t bytes);
  void set_remaining_bytes(uint64_t bytes);
  void set_vm_downtime(bool stopped);

  // Flushes and closes the file; idempotent, the destructor calls it too.
  // After this the setters still work but nothing more is written.
  void close();
  const std::string& path() const { return path_; }

  Signal<sc_dt::sc_uint<8>> src_device_state, dst_device_state;
  Signal<bool> src_engine_busy, dst_engine_busy;
  Signal<sc_dt::uint64> dirty_pages, link_bytes_in_flight, remaining_bytes;
  Signal<bool> vm_downtime;

 private:
  std::string path_;
  std::string written_;  // the file SystemC writes (path_ + ".vcd" unless path_ ends so)
  sc_core::sc_trace_file* tf_ = nullptr;
};

}  // namespace mdevsim::sim
