#include "mdevsim/sim/run_outputs.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/sim/host.h"
#include "mdevsim/sim/units.h"

namespace mdevsim::sim {

namespace {
constexpr const char* kDefaultLinkName = "transfer";  // a transfer made outside any link_scope
constexpr double kEngineSample = 0.001;               // slice with a VCD (engines busy)
constexpr double kProgressSample = 0.01;              // slice for the progress line only

double now() { return sc_core::sc_time_stamp().to_seconds(); }
}  // namespace

RunRecorder::RunRecorder(RecorderOptions options)
    : opt_(std::move(options)), link_name_(kDefaultLinkName) {
  log.enabled = opt_.record;
  if (!opt_.vcd.empty()) wf_ = std::make_unique<Waveform>("waveform", opt_.vcd);
  wall_start_ = last_print_ = std::chrono::steady_clock::now();
}

// The hosts' frontends keep pointers to the observers: the hosts of a run
// are gone before the recorder (run_migration owns them), nothing to unhook.
RunRecorder::~RunRecorder() { close(); }

// ------------------------------------------------------------ elaboration

void RunRecorder::attach(Host& src, Host& dst) {
  for (auto* h : {&src, &dst}) {
    const bool source = h == &src;
    // The state each device starts in, at the start: the ABI trace only sees
    // it at the first call.
    if (opt_.record)
      log.states.push_back({now(), source ? "src" : "dst", h->frontend.state_name()});
    if (wf_) wf_->set_device_state(source, h->frontend.state_value());
    if (opt_.record || wf_) {
      observers_.push_back(std::make_unique<HostObserver>(*this, h->frontend, source));
      h->frontend.set_observer(observers_.back().get());
    }
    devices_.push_back({source, &h->model(), 0});
  }
}

void RunRecorder::attach_device(models::Device& device) {
  devices_.push_back({true, &device, 0});
  phase_ = "device run";
}

RunRecorder::HostObserver::HostObserver(RunRecorder& r, vfio::Frontend& f, bool source)
    : r_(r), f_(f), source_(source), abi_(r.log, source ? "src" : "dst") {}

void RunRecorder::HostObserver::on_call(const vfio::CallRecord& record) {
  const bool device_bytes_in_flight = !source_ && record.call == "write" &&
                                      record.fd_kind == "data" && r_.link_in_scope_ &&
                                      std::strcmp(r_.link_name_, kDeviceData) == 0;
  if (r_.opt_.record && device_bytes_in_flight)
    r_.held_writes_.push_back({this, record, now()});
  else if (r_.opt_.record)
    abi_.on_call(record);
  if (r_.wf_ && record.state_after != record.state_before)
    r_.wf_->set_device_state(source_, f_.state_value());
}

// ------------------------------------------------------------ generic records

void RunRecorder::phase(const std::string& track, const std::string& name, double start_s,
                        double end_s) {
  if (opt_.record) log.spans.push_back({track, name, start_s, end_s});
}

void RunRecorder::counter(const std::string& name, double t_s, double value) {
  if (!opt_.record) return;
  // Several values at one time: the last one stands.
  for (auto it = log.counters.rbegin(); it != log.counters.rend(); ++it) {
    if (it->name != name) continue;
    if (it->t_s == t_s) {
      it->value = value;
      return;
    }
    break;
  }
  log.counters.push_back({name, t_s, value});
}

void RunRecorder::downtime(double t0_s, double t1_s) { phase("vm", "downtime", t0_s, t1_s); }

void RunRecorder::device_state(bool source, uint32_t value) {
  if (wf_) wf_->set_device_state(source, value);
}

// ------------------------------------------------------------ scopes

RunRecorder::Scope::Scope(RunRecorder* r, Kind k, int64_t iteration, const char* what)
    : r_(r), kind_(k), iteration_(iteration) {
  if (!r_) return;
  start_s_ = now();
  switch (kind_) {
    case Kind::kSetup:
      r_->phase_ = "setup";
      break;
    case Kind::kIteration:
      r_->phase_ = "pre-copy";
      r_->iteration_ = iteration_;
      break;
    case Kind::kLink:
      r_->link_begin(what);
      break;
  }
}

RunRecorder::Scope::~Scope() {
  if (!r_) return;
  switch (kind_) {
    case Kind::kSetup:
      r_->phase("src migration", "setup", start_s_, now());
      break;
    case Kind::kIteration:
      r_->phase("src migration", "iteration " + std::to_string(iteration_), start_s_, now());
      break;
    case Kind::kLink:
      r_->link_end();
      break;
  }
}

RunRecorder::Scope RunRecorder::setup_scope(RunRecorder* r) {
  return Scope(r, Scope::Kind::kSetup, -1, nullptr);
}
RunRecorder::Scope RunRecorder::iteration_scope(RunRecorder* r, uint32_t index) {
  return Scope(r, Scope::Kind::kIteration, index, nullptr);
}
RunRecorder::Scope RunRecorder::link_scope(RunRecorder* r, const char* what) {
  return Scope(r, Scope::Kind::kLink, -1, what);
}

// ------------------------------------------------------------ link

void RunRecorder::link_begin(const char* what) {
  link_name_ = what;
  link_fresh_ = true;
  link_in_scope_ = true;
}

void RunRecorder::release_held_writes(double t_s) {
  for (auto& w : held_writes_) {
    if (t_s > w.read_at_s)
      w.call.notes.push_back("the bytes arrived " + format_duration(t_s - w.read_at_s) +
                             " after the source read them");
    w.host->abi().record_at(w.call, t_s);
  }
  held_writes_.clear();
}

void RunRecorder::link_end() {
  link_progress(now(), 0);
  release_held_writes(now());
  link_name_ = kDefaultLinkName;
  link_fresh_ = true;
  link_in_scope_ = false;
}

void RunRecorder::link_progress(double t_s, double bytes_left) {
  if (wf_) wf_->set_link_bytes_in_flight(static_cast<uint64_t>(bytes_left));
  if (!opt_.record) return;
  if (bytes_left == 0) release_held_writes(t_s);
  if (bytes_left > 0 || link_open_ >= 0) {
    // The span begins with the first bytes of a scope (an empty send makes
    // none); it continues the previous one when that ended just now.
    if (link_fresh_ && bytes_left > 0) {
      link_fresh_ = false;
      const bool extend = link_open_ >= 0 && log.spans[link_open_].name == link_name_ &&
                          log.spans[link_open_].end_s == t_s;
      if (!extend) {
        log.spans.push_back({"link", link_name_, t_s, t_s});
        link_open_ = static_cast<long>(log.spans.size()) - 1;
      }
    }
    if (link_open_ >= 0 && !link_fresh_) log.spans[link_open_].end_s = t_s;
    // Outside a scope, each transfer is its own span.
    if (bytes_left == 0 && !link_in_scope_) link_fresh_ = true;
  }
  if (bytes_left != link_counter_last_) {
    counter("link bytes in flight", t_s, bytes_left);
    link_counter_last_ = bytes_left;
  }
}

// ------------------------------------------------------------ driver hooks

void RunRecorder::sync(double t_s, uint64_t dirty_pages, uint64_t remaining_bytes) {
  counter("dirty pages", t_s, static_cast<double>(dirty_pages));
  counter("remaining bytes", t_s, static_cast<double>(remaining_bytes));
  if (wf_) {
    wf_->set_dirty_pages(dirty_pages);
    wf_->set_remaining_bytes(remaining_bytes);
  }
}

void RunRecorder::sync(double t_s, uint64_t ram_dirty_pages, uint64_t device_dirty_bytes,
                       uint64_t remaining_bytes) {
  uint64_t page = 0;
  for (const auto& d : devices_)
    if (d.source) page = d.device->memory().page_size();
  sync(t_s, ram_dirty_pages + (page ? device_dirty_bytes / page : 0), remaining_bytes);
}

void RunRecorder::vm_stopped(double t_s) {
  log.switchover_s = t_s;
  phase_ = "stop-and-copy";
  if (wf_) wf_->set_vm_downtime(true);
}

void RunRecorder::switchover(double t_stop_s, double t_resume_s, double downtime_s) {
  const double t_end = t_stop_s + downtime_s;
  phase("src migration", "stop-and-copy", t_stop_s, t_resume_s);
  phase("dst migration", "resume", t_resume_s, t_end);
  downtime(t_stop_s, t_end);
  phase_ = "verify";
  if (wf_) wf_->set_vm_downtime(false);
}

void RunRecorder::finish(double t_s) {
  if (link_counter_last_ > 0) link_progress(t_s, 0);
  if (wf_) {
    wf_->set_vm_downtime(false);  // a cancelled switchover: the source runs again
    wf_->set_link_bytes_in_flight(0);
  }
  phase_ = "done";
}

// ------------------------------------------------------------ simulation

sc_core::sc_time RunRecorder::slice() const {
  return sc_core::sc_time::from_seconds(wf_ ? kEngineSample : kProgressSample);
}

void RunRecorder::simulate() {
  if (!sampling()) {
    sc_core::sc_start();
    return;
  }
  const sc_core::sc_time step = slice();
  for (;;) {
    sc_core::sc_start(step);
    if (sc_core::sc_get_status() != sc_core::SC_PAUSED || !sc_core::sc_pending_activity()) break;
    between_slices();
  }
}

void RunRecorder::simulate_for(const sc_core::sc_time& duration) {
  if (!sampling()) {
    sc_core::sc_start(duration);
    return;
  }
  const sc_core::sc_time end = sc_core::sc_time_stamp() + duration;
  const sc_core::sc_time step = slice();
  while (sc_core::sc_time_stamp() < end) {
    const sc_core::sc_time left = end - sc_core::sc_time_stamp();
    sc_core::sc_start(left < step ? left : step);
    if (sc_core::sc_get_status() != sc_core::SC_PAUSED) break;
    between_slices();
  }
}

void RunRecorder::between_slices() {
  if (wf_) sample_engines();
  if (opt_.progress) print_progress(false);
}

void RunRecorder::sample_engines() {
  // The engines run loosely timed (a 100 us quantum): a command is often
  // done before global time moves. Busy = busy now, or did work since the
  // previous sample.
  for (auto& d : devices_) {
    const auto& dev = *d.device;
    const uint64_t done = dev.engine_pages_done();
    wf_->set_engine_busy(d.source, !dev.engines_idle() || done != d.pages_done);
    d.pages_done = done;
  }
}

void RunRecorder::print_progress(bool force) {
  const auto wall = std::chrono::steady_clock::now();
  const auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  if (!force && (secs(wall - wall_start_) < opt_.progress_after_s ||
                 (printed_ && secs(wall - last_print_) < opt_.progress_repaint_s)))
    return;
  last_print_ = wall;
  char line[160];
  int n;
  if (iteration_ >= 0 && phase_ == "pre-copy")
    n = std::snprintf(line, sizeof line, "\r  sim %.3f s  iteration %lld  %s", now(),
                      static_cast<long long>(iteration_), phase_.c_str());
  else
    n = std::snprintf(line, sizeof line, "\r  sim %.3f s  %s", now(), phase_.c_str());
  if (n < 0) return;
  std::string text(line, std::min<size_t>(static_cast<size_t>(n), sizeof line - 1));
  const size_t width = text.size() - 1;
  if (width < printed_) text.append(printed_ - width, ' ');  // wipe a longer previous line
  printed_ = width;
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

void RunRecorder::clear_progress() {
  if (!printed_) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(printed_), "");
  std::fflush(stderr);
  printed_ = 0;
}

// ------------------------------------------------------------ close

void RunRecorder::close() {
  if (closed_) return;
  closed_ = true;
  clear_progress();
  if (wf_) wf_->close();
  if (!opt_.record) return;
  release_held_writes(now());
  // Device protocol states as spans: each visit lasts until the next visit
  // of the same host, the last one until the end of the run. States only
  // passed through (a multi-arc SET) last no time and are left out.
  const double t_end = now();
  std::map<std::string, std::vector<const RunLog::StateVisit*>> by_host;
  for (const auto& v : log.states) by_host[v.host].push_back(&v);
  for (const auto& [host, visits] : by_host) {
    for (size_t i = 0; i < visits.size(); ++i) {
      const double end = i + 1 < visits.size() ? visits[i + 1]->t_s : t_end;
      if (end > visits[i]->t_s)
        log.spans.push_back({host + " device", visits[i]->state, visits[i]->t_s, end});
    }
  }
}

}  // namespace mdevsim::sim
