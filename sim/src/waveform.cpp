#include "mdevsim/sim/waveform.h"

#include <sysc/tracing/sc_tracing_ids.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace mdevsim::sim {

namespace {
constexpr const char* kVcd = ".vcd";

bool ends_with_vcd(const std::string& p) {
  return p.size() >= 4 && p.compare(p.size() - 4, 4, kVcd) == 0;
}

// sc_trace_file::cycle is protected; SystemC's kernel is its only caller. A
// using-declaration in a derived class makes it nameable (not callable on a
// foreign object, but a member pointer is).
struct TraceCycle : sc_core::sc_trace_file {
  using sc_core::sc_trace_file::cycle;
};

// SystemC 2.3.4 ends the file with a "#<now>" line, which repeats the last
// timestamp when values changed at the very end. Viewers accept that, but VCD
// time should increase: drop a "#T" line that repeats the previous one (its
// value lines, if any, then belong to the first "#T", which is equivalent).
// Only the tail can have one, so only the tail is read.
void drop_repeated_final_timestamps(const std::string& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return;
  constexpr uint64_t kTail = 64 * 1024;  // far more than one timestep of 8 signals
  uint64_t start = size > kTail ? size - kTail : 0;
  std::string tail;
  {
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(start));
    std::ostringstream ss;
    ss << in.rdbuf();
    tail = ss.str();
  }
  if (start > 0) {  // begin at a line start
    const auto nl = tail.find('\n');
    if (nl == std::string::npos) return;
    tail.erase(0, nl + 1);
    start += nl + 1;
  }
  std::string kept, last_time;
  bool dropped = false;
  std::istringstream lines(tail);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] == '#') {
      if (line == last_time) {
        dropped = true;
        continue;
      }
      last_time = line;
    }
    kept += line + '\n';
  }
  if (!dropped) return;
  std::filesystem::resize_file(file, start, ec);
  if (ec) return;
  std::ofstream(file, std::ios::binary | std::ios::app) << kept;
}
}  // namespace

Waveform::Waveform(sc_core::sc_module_name name, const std::string& path)
    : sc_core::sc_module(name),
      src_device_state("src_device_state"),
      dst_device_state("dst_device_state"),
      src_engine_busy("src_engine_busy"),
      dst_engine_busy("dst_engine_busy"),
      dirty_pages("dirty_pages"),
      link_bytes_in_flight("link_bytes_in_flight"),
      remaining_bytes("remaining_bytes"),
      vm_downtime("vm_downtime"),
      path_(path),
      written_(ends_with_vcd(path) ? path : path + kVcd) {
  // SystemC appends ".vcd" to the name it is given.
  tf_ = sc_core::sc_create_vcd_trace_file(written_.substr(0, written_.size() - 4).c_str());
  // Nanoseconds: the resolution the RunLog times have; an explicit unit also
  // avoids SystemC's note about picking one.
  tf_->set_time_unit(1, sc_core::SC_NS);
  // The simulation's resolution is finer (ps): a change between two
  // nanoseconds is written at the nanosecond before it, without a warning
  // per timestep.
  sc_core::sc_report_handler::set_actions(sc_core::SC_ID_TRACING_VCD_TIME_RESOLUTION_,
                                          sc_core::SC_DO_NOTHING);
  sc_core::sc_trace(tf_, src_device_state, "src_device_state");
  sc_core::sc_trace(tf_, dst_device_state, "dst_device_state");
  sc_core::sc_trace(tf_, src_engine_busy, "src_engine_busy");
  sc_core::sc_trace(tf_, dst_engine_busy, "dst_engine_busy");
  sc_core::sc_trace(tf_, dirty_pages, "dirty_pages");
  sc_core::sc_trace(tf_, link_bytes_in_flight, "link_bytes_in_flight");
  sc_core::sc_trace(tf_, remaining_bytes, "remaining_bytes");
  sc_core::sc_trace(tf_, vm_downtime, "vm_downtime");
}

Waveform::~Waveform() { close(); }

void Waveform::set_device_state(bool source, uint32_t state) {
  (source ? src_device_state : dst_device_state).write(state & 0xff);
}
void Waveform::set_engine_busy(bool source, bool busy) {
  (source ? src_engine_busy : dst_engine_busy).write(busy);
}
void Waveform::set_dirty_pages(uint64_t pages) { dirty_pages.write(pages); }
void Waveform::set_link_bytes_in_flight(uint64_t bytes) { link_bytes_in_flight.write(bytes); }
void Waveform::set_remaining_bytes(uint64_t bytes) { remaining_bytes.write(bytes); }
void Waveform::set_vm_downtime(bool stopped) { vm_downtime.write(stopped); }

void Waveform::close() {
  if (!tf_) return;
  // Values written in the last timestep are traced only when time advances
  // again, which it will not after the last sc_start: trace them now (not
  // from inside a process, where the kernel's own cycle is still to come).
  if (!sc_core::sc_get_current_process_handle().valid()) {
    void (sc_core::sc_trace_file::*cycle)(bool) = &TraceCycle::cycle;
    (tf_->*cycle)(false);
  }
  sc_core::sc_close_vcd_trace_file(tf_);
  tf_ = nullptr;
  drop_repeated_final_timestamps(written_);
  if (written_ != path_) {
    std::error_code ec;  // no file when the simulation never started: nothing to rename
    std::filesystem::rename(written_, path_, ec);
  }
}

}  // namespace mdevsim::sim
