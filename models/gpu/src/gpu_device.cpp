#include "mdevsim/models/gpu/gpu_device.h"

#include <algorithm>
#include <stdexcept>

#include "mdevsim/models/common/rng.h"
#include "mdevsim/models/stream/record_format.h"

namespace mdevsim::models {

namespace {
double checked_bandwidth(double bw) {
  if (!(bw > 0)) throw std::invalid_argument("engine_bandwidth must be > 0");
  return bw;
}
}  // namespace

GpuDevice::GpuDevice(sc_core::sc_module_name name, const DeviceConfig& config)
    : sc_core::sc_module(name),
      registers("bar0", config.contexts),
      vram("vram", config.vram_bytes, config.page_size),
      interrupts("irq", registers),
      compute("compute", EngineId::kCompute, run, registers, interrupts, vram,
              checked_bandwidth(config.engine_bandwidth), config.page_size),
      copy("copy", EngineId::kCopy, run, registers, interrupts, vram, config.engine_bandwidth,
           config.page_size),
      dma("dma", run, registers, interrupts, vram, config.engine_bandwidth / 8,
          config.guest_page_size, config.dma_buffer_gpa / config.guest_page_size,
          config.dma_buffer_bytes / config.guest_page_size),
      rings(config.contexts, RingState{std::vector<Command>(kRingEntries)}),
      command_processor("cp", run, registers, rings, {&compute, &copy, &dma}),
      config_(config) {
  if (config.contexts == 0 || config.contexts > 256)
    throw std::invalid_argument("contexts must be between 1 and 256");
  if (!config.resident.empty()) {
    // Both sides know the resident content (arrived pages stay bits); only
    // the source starts with it.
    vram.store().set_content_salt(mix64(config.content_seed ^ 0x7672616d636f6eULL));
    if (config.resident_loaded)
      for (const auto& r : config.resident) vram.store().make_resident(r.first_page, r.pages);
  }
  registers.on_doorbell = [this](uint32_t) { run.work.notify(sc_core::SC_ZERO_TIME); };
  registers.accepts_writes = [this] { return run.running; };
  // Loosely timed: the engines run ahead of the kernel by up to the TLM
  // global quantum, which the simulation's builder sets (common/quantum.h).
}

GpuDevice::~GpuDevice() = default;

bool GpuDevice::engines_idle() const { return compute.idle() && copy.idle() && dma.idle(); }

void GpuDevice::set_running(bool running) {
  if (!running) return stop_together({this});
  if (run.running) return;
  run.running = true;
  // The engines restart their local clocks here, whatever they ran ahead to
  // before the stop: a resumed device and one restored from its image and
  // started at the same instant go on identically.
  for (Engine* e :
       {static_cast<Engine*>(&compute), static_cast<Engine*>(&copy), static_cast<Engine*>(&dma)})
    e->restart_clock();
  run.resumed.notify(sc_core::SC_ZERO_TIME);
}

void stop_together(std::initializer_list<GpuDevice*> devices) {
  // Engines observe the flag at their next page boundary; the caller waits
  // the longest stop latency when it is a SystemC thread (an ioctl blocks).
  // Every flag is set before that wait: a device stopped after another's
  // wait would run on for that latency.
  sc_core::sc_time latency = sc_core::SC_ZERO_TIME;
  for (GpuDevice* d : devices) {
    if (!d->run.running) continue;
    d->run.running = false;
    latency = std::max(latency, sc_core::sc_time::from_seconds(d->config().stop_latency_s));
  }
  auto h = sc_core::sc_get_current_process_handle();
  if (h.valid() && h.proc_kind() == sc_core::SC_THREAD_PROC_ && latency > sc_core::SC_ZERO_TIME)
    sc_core::wait(latency);
}

void GpuDevice::reset() {
  registers.reset();
  for (auto& r : rings) r.entries.assign(kRingEntries, Command{});
  compute.reset();
  copy.reset();
  dma.reset();
  command_processor.set_next_context(0);
  p2p_quiesced_ = false;
  set_running(true);
}

std::vector<GuestPageRange> GpuDevice::pinned_guest_pages() const {
  if (dma.buffer_pages() == 0) return {};
  return {GuestPageRange{dma.buffer_first_page(), dma.buffer_pages()}};
}

void GpuDevice::dma_logging_start(uint64_t) { dma.start_logging(); }
void GpuDevice::dma_logging_stop() { dma.stop_logging(); }

std::vector<uint64_t> GpuDevice::dma_logging_report(uint64_t iova, uint64_t length,
                                                    uint64_t page_size) {
  const uint64_t gps = config_.guest_page_size;
  const uint64_t first = iova / gps;
  const uint64_t count = (iova + length + gps - 1) / gps - first;
  std::vector<uint64_t> out;
  uint64_t last = ~uint64_t{0};
  for (uint64_t gpage : dma.take_logged(first, count)) {
    const uint64_t addr = (gpage * gps) / page_size * page_size;  // report granularity
    if (addr != last) out.push_back(addr);
    last = addr;
  }
  return out;
}

// What one missing page takes in the stream when it arrives: a PAGE record
// (models/stream/record_format.h).
uint64_t GpuDevice::postcopy_page_record_bytes() const {
  return models::page_record_bytes(config_.page_size);
}

std::string GpuDevice::compatibility_string() const {
  return "mdevsim-gpu vram=" + std::to_string(config_.vram_bytes) +
         " page=" + std::to_string(config_.page_size) +
         " contexts=" + std::to_string(config_.contexts) + " ring=" + std::to_string(kRingEntries);
}

DeviceState GpuDevice::capture_state() const {
  DeviceState s;
  s.registers = registers.state();
  s.rings = rings;
  s.engines = {compute.state(), copy.state(), dma.state()};
  s.next_context = command_processor.next_context();
  return s;
}

// Layout: registers, rings (live entries only), engines, CP position.
std::vector<uint8_t> GpuDevice::serialize_state() const {
  StateWriter w;
  registers.save(w);
  w.u64(rings.size());
  for (uint32_t c = 0; c < rings.size(); ++c) {
    const uint32_t rptr = registers.ctx(c, kRptr), wptr = registers.ctx(c, kWptr);
    const uint32_t live = (wptr + kRingEntries - rptr) % kRingEntries;
    w.u32(live);
    for (uint32_t k = 0; k < live; ++k) rings[c].entries[(rptr + k) % kRingEntries].save(w);
  }
  compute.state().save(w);
  copy.state().save(w);
  dma.state().save(w);
  w.u32(command_processor.next_context());
  return w.take();
}

DeviceState GpuDevice::parse_state(std::span<const uint8_t> blob) const {
  StateReader r(blob);
  DeviceState s;
  s.registers = registers.load(r);
  const uint64_t nrings = r.count("ring count", 256);
  if (nrings != rings.size()) throw StateFormatError("ring count differs from this device's");
  s.rings.assign(nrings, RingState{std::vector<Command>(kRingEntries)});
  const size_t base = kGlobalRegCount;
  for (uint32_t c = 0; c < nrings; ++c) {
    const uint32_t rptr = s.registers.values[base + c * kContextRegCount + kRptr];
    const uint32_t wptr = s.registers.values[base + c * kContextRegCount + kWptr];
    const uint32_t live = r.u32("ring live entries");
    if (live != (wptr + kRingEntries - rptr) % kRingEntries)
      throw StateFormatError("ctx[" + std::to_string(c) +
                             "] ring entries disagree with its pointers");
    for (uint32_t k = 0; k < live; ++k)
      s.rings[c].entries[(rptr + k) % kRingEntries] = Command::load(r, vram.store().page_count());
  }
  for (int e = 0; e < kEngineCount; ++e)
    s.engines.push_back(EngineState::load(r, vram.store().page_count()));
  s.next_context = r.u32("command processor position");
  if (s.next_context >= nrings) throw StateFormatError("command processor position out of range");
  r.expect_end("device state");
  return s;
}

void GpuDevice::apply_state(const DeviceState& s) {
  registers.load_state(s.registers);
  rings = s.rings;
  compute.load_state(s.engines[0]);
  copy.load_state(s.engines[1]);
  dma.load_state(s.engines[2]);
  command_processor.set_next_context(s.next_context);
  run.work.notify(sc_core::SC_ZERO_TIME);
}

uint64_t GpuDevice::state_hash() const {
  uint64_t h = vram.store().content_hash();
  for (uint8_t b : serialize_state()) h = mix64(h ^ b);
  return h;
}

DeviceDiff GpuDevice::compare(const Device& other, size_t max_listed) const {
  if (const auto* gpu = dynamic_cast<const GpuDevice*>(&other))
    return compare_devices(*this, *gpu, max_listed);
  DeviceDiff d;
  d.fields = 1;
  d.first_field = FieldDifference{"configuration", "type", {}, {}};
  d.differences.push_back("configuration: device type gpu vs " + other.type());
  return d;
}

DeviceDiff compare_devices(const GpuDevice& a, const GpuDevice& b, size_t max_listed) {
  DeviceDiff d;
  auto note = [&](std::string what) {
    if (d.differences.size() < max_listed) d.differences.push_back(std::move(what));
  };
  auto field = [&](FieldDifference f, std::string text) {
    d.fields++;
    note(std::move(text));
    if (!d.first_field) d.first_field = std::move(f);
  };
  if (a.compatibility_string() != b.compatibility_string()) {
    field({"configuration", "", {}, {}},
          "configuration: " + a.compatibility_string() + " vs " + b.compatibility_string());
    return d;
  }
  const DeviceState sa = a.capture_state(), sb = b.capture_state();
  const auto names = a.registers.field_names();
  for (size_t i = 0; i < sa.registers.values.size(); ++i) {
    const uint32_t x = sa.registers.values[i], y = sb.registers.values[i];
    if (x != y)
      field({"register", names[i], x, y},
            "register " + names[i] + ": " + std::to_string(x) + " vs " + std::to_string(y));
  }
  for (size_t c = 0; c < sa.rings.size(); ++c)
    for (size_t k = 0; k < kRingEntries; ++k)
      if (!(sa.rings[c].entries[k] == sb.rings[c].entries[k])) {
        const std::string name = "ctx[" + std::to_string(c) + "].ring[" + std::to_string(k) + "]";
        field({"ring_entry", name, {}, {}}, name);
      }
  static const char* kEngines[] = {"compute", "copy", "dma"};
  for (size_t e = 0; e < sa.engines.size(); ++e) {
    const auto& x = sa.engines[e];
    const auto& y = sb.engines[e];
    auto engine = [&](bool same, const char* f, std::optional<uint64_t> u = {},
                      std::optional<uint64_t> v = {}) {
      if (same) return;
      const std::string name = std::string(kEngines[e]) + "." + f;
      field({"engine", name, u, v}, "engine " + name);
    };
    engine(x.busy == y.busy, "busy", x.busy, y.busy);
    engine(x.cmd == y.cmd, "command");
    engine(x.progress == y.progress, "progress", x.progress, y.progress);
    engine(x.commands_done == y.commands_done, "commands_done", x.commands_done, y.commands_done);
    engine(x.pages_done == y.pages_done, "pages_done", x.pages_done, y.pages_done);
    engine(x.dma_cursor == y.dma_cursor, "dma_cursor", x.dma_cursor, y.dma_cursor);
  }
  if (sa.next_context != sb.next_context)
    field({"command_processor", "next_context", sa.next_context, sb.next_context},
          "command_processor.next_context");
  // VRAM: walk both stores' touched pages.
  const PageStore& va = a.vram.store();
  const PageStore& vb = b.vram.store();
  // Listed in walking order: the pages a holds, then those only b holds.
  std::vector<uint64_t> only_b;
  PageStore::for_each_difference(va, vb, [&](uint64_t p, uint64_t ta, uint64_t) {
    if (!d.first_vram_page) d.first_vram_page = p;  // ascending: the first is the lowest
    d.vram_pages++;
    if (ta != 0)
      note("vram page " + std::to_string(p));
    else if (only_b.size() < max_listed)
      only_b.push_back(p);
  });
  for (uint64_t p : only_b) note("vram page " + std::to_string(p));
  return d;
}

}  // namespace mdevsim::models
