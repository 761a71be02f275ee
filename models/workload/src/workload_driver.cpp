#include "mdevsim/models/workload/workload_driver.h"

#include <cmath>
#include <stdexcept>

#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

WorkloadDriver::WorkloadDriver(sc_core::sc_module_name name, GpuDevice& device,
                               const WorkloadSpec& spec, uint64_t seed)
    : sc_core::sc_module(name),
      socket("socket"),
      device_(device),
      spec_(spec),
      streams_(make_page_streams(spec.patterns(), device.vram.store().page_count(),
                                 device.config().page_size, seed)),
      seed_(mix64(seed ^ 0xd21e5ULL)),
      interval_s_(spec.submit_interval_s),
      dma_pages_per_s_(spec.dma_rate_bytes_per_s / device.config().guest_page_size),
      upload_pages_per_s_(spec.dma_read_rate_bytes_per_s / device.config().guest_page_size) {
  if (!(interval_s_ > 0)) throw std::invalid_argument("submit_interval must be > 0");
  if (!(spec.dma_rate_bytes_per_s >= 0)) throw std::invalid_argument("dma_rate must be >= 0");
  if (!(spec.dma_read_rate_bytes_per_s >= 0))
    throw std::invalid_argument("dma_read_rate must be >= 0");
  state_.submitted_streams.assign(streams_.size() - 1, 0);
  due_.resize(streams_.size());
  socket.bind(device.registers.socket);
  SC_THREAD(thread);
}

uint64_t WorkloadDriver::backlog() const {
  uint64_t n = 0;
  for (size_t k = 0; k < streams_.size(); ++k)
    n += streams_[k].gen.writes_until(active_time_s()) - submitted(k);
  return n;
}

uint32_t WorkloadDriver::mmio_read(uint32_t offset) {
  tlm::tlm_generic_payload t;
  uint32_t v = 0;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_address(offset);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  t.set_data_length(4);
  socket->b_transport(t, delay);
  return v;
}

void WorkloadDriver::mmio_write(uint32_t offset, uint32_t value) {
  tlm::tlm_generic_payload t;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  t.set_command(tlm::TLM_WRITE_COMMAND);
  t.set_address(offset);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&value));
  t.set_data_length(4);
  socket->b_transport(t, delay);
}

bool WorkloadDriver::ring_has_space(uint32_t ctx) {
  const uint32_t base = kContextBase + ctx * kContextStride;
  const uint32_t rptr = mmio_read(base + kContextRegisters[kRptr].offset);
  const uint32_t wptr = mmio_read(base + kContextRegisters[kWptr].offset);
  return (wptr + 1) % kRingEntries != rptr;
}

void WorkloadDriver::thread() {
  const auto interval = sc_core::sc_time::from_seconds(interval_s_);
  for (;;) {
    wait(interval);
    if (!guest_running_) continue;
    ++state_.active_ticks;
    if (device_.running()) submit_due();
  }
}

void WorkloadDriver::submit_due() {
  const uint32_t contexts = device_.registers.contexts();
  const double t = active_time_s();
  const size_t n_streams = streams_.size();
  for (size_t k = 0; k < n_streams; ++k) due_[k] = streams_[k].gen.writes_until(t);
  const auto dma_due = static_cast<uint64_t>(std::floor(dma_pages_per_s_ * t));
  const auto upload_due = static_cast<uint64_t>(std::floor(upload_pages_per_s_ * t));
  for (;;) {
    // The stream whose turn it is (round robin by command), else the next
    // one with work due: one stream alone is served as it always was.
    size_t stream = n_streams;
    for (size_t j = 0; j < n_streams; ++j) {
      const size_t k = (state_.commands + j) % n_streams;
      if (submitted(k) < due_[k]) {
        stream = k;
        break;
      }
    }
    const bool dma_pending = state_.submitted_dma < dma_due;
    const bool upload_pending = state_.submitted_uploads < upload_due;
    if (stream == n_streams && !dma_pending && !upload_pending) return;
    // Find a context with ring space, round robin.
    uint32_t ctx = state_.next_context;
    uint32_t tried = 0;
    while (tried < contexts && !ring_has_space(ctx)) {
      ctx = (ctx + 1) % contexts;
      ++tried;
    }
    if (tried == contexts) return;  // every ring full: the rest waits (backlog)

    Command cmd;
    cmd.key = stream_value(seed_, state_.commands);
    if (dma_pending && (state_.commands % 8 == 7 || stream == n_streams)) {
      // Readback of recently written VRAM pages into the guest's DMA buffer.
      cmd.engine = EngineId::kDma;
      cmd.count = static_cast<uint32_t>(
          std::min<uint64_t>(Command::kMaxPages, dma_due - state_.submitted_dma));
      const uint64_t base = state_.submitted_writes;
      for (uint32_t i = 0; i < cmd.count; ++i)
        cmd.pages[i] = streams_[0].gen.page_of(base > i ? base - 1 - i : i);
      state_.submitted_dma += cmd.count;
    } else if (upload_pending && (state_.commands % 8 == 3 || stream == n_streams)) {
      // Upload of guest data (inputs) into the first pattern's VRAM pages.
      cmd.engine = EngineId::kDma;
      cmd.from_guest = true;
      cmd.count = static_cast<uint32_t>(
          std::min<uint64_t>(Command::kMaxPages, upload_due - state_.submitted_uploads));
      for (uint32_t i = 0; i < cmd.count; ++i)
        cmd.pages[i] = streams_[0].gen.page_of(state_.submitted_uploads + i);
      state_.submitted_uploads += cmd.count;
    } else {
      const PageStream& st = streams_[stream];
      uint64_t& done = submitted(stream);
      // Reads run on the compute engine; every fourth batch of writes is a
      // blit on the copy engine.
      cmd.engine = !st.reads && state_.commands % 4 == 3 ? EngineId::kCopy : EngineId::kCompute;
      cmd.read_only = st.reads;
      cmd.count =
          static_cast<uint32_t>(std::min<uint64_t>(Command::kMaxPages, due_[stream] - done));
      for (uint32_t i = 0; i < cmd.count; ++i) cmd.pages[i] = st.gen.page_of(done + i);
      done += cmd.count;
    }
    const uint32_t base = kContextBase + ctx * kContextStride;
    const uint32_t wptr = mmio_read(base + kContextRegisters[kWptr].offset);
    device_.ring_slot(ctx, wptr) = cmd;
    mmio_write(base + kContextRegisters[kWptr].offset, (wptr + 1) % kRingEntries);
    ++state_.commands;
    state_.next_context = (ctx + 1) % contexts;
  }
}

}  // namespace mdevsim::models
