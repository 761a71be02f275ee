#include "mdevsim/models/gpu/engines.h"

#include <tlm_utils/tlm_quantumkeeper.h>

#include "mdevsim/models/common/rng.h"

namespace mdevsim::models {

void EngineState::save(StateWriter& w) const {
  w.u8(busy);
  cmd.save(w);
  w.u32(progress);
  w.u64(commands_done);
  w.u64(pages_done);
  w.u64(dma_cursor);
}

EngineState EngineState::load(StateReader& r, uint64_t vram_pages) {
  EngineState s;
  s.busy = r.u8("engine busy") != 0;
  s.cmd = Command::load(r, vram_pages);
  s.progress = r.u32("engine progress");
  if (s.progress > s.cmd.count) throw StateFormatError("engine progress beyond its command");
  s.commands_done = r.u64("engine commands done");
  s.pages_done = r.u64("engine pages done");
  s.dma_cursor = r.u64("dma cursor");
  return s;
}

Engine::Engine(sc_core::sc_module_name name, EngineId id, RunControl& run, Bar0Registers& regs,
               InterruptController& irq, Vram& vram, double bytes_per_s, uint32_t page_size)
    : sc_core::sc_module(name),
      vram_(vram),
      id_(id),
      run_(run),
      regs_(regs),
      irq_(irq),
      page_time_(sc_core::sc_time::from_seconds(page_size / bytes_per_s)) {}

// Called by the command processor, which then runs the engine.
void Engine::start(const Command& cmd) {
  state_.busy = true;
  state_.cmd = cmd;
  state_.progress = 0;
}

bool Engine::step() {
  do_page(state_.cmd, state_.progress);
  ++state_.progress;
  ++state_.pages_done;
  ready_at_ += page_time_;
  if (state_.progress != state_.cmd.count) return false;
  state_.busy = false;
  ++state_.commands_done;
  regs_.set(kFenceCompleted, regs_.get(kFenceCompleted) + 1);
  irq_.raise(id_);
  return true;
}

void ComputeEngine::do_page(const Command& cmd, uint32_t i) {
  if (cmd.read_only) return;  // the page was read (touched): nothing changes
  vram_.write_page(cmd.pages[i], stream_value(cmd.key, i));
}

void CopyEngine::do_page(const Command& cmd, uint32_t i) {
  if (cmd.read_only) return;
  const uint64_t src = cmd.pages[(i + 1) % cmd.count];
  vram_.write_page(cmd.pages[i], vram_.token(src) ^ cmd.key);
}

DmaEngine::DmaEngine(sc_core::sc_module_name name, RunControl& run, Bar0Registers& regs,
                     InterruptController& irq, Vram& vram, double bytes_per_s,
                     uint32_t guest_page_size, uint64_t buffer_first_page, uint64_t buffer_pages)
    : Engine(name, EngineId::kDma, run, regs, irq, vram, bytes_per_s, guest_page_size),
      first_page_(buffer_first_page),
      pages_(buffer_pages),
      log_(buffer_pages) {}

void DmaEngine::do_page(const Command& cmd, uint32_t i) {
  if (pages_ == 0) return;
  const uint64_t offset = state_.dma_cursor;
  state_.dma_cursor = (state_.dma_cursor + 1) % pages_;
  if (cmd.from_guest) {
    // Upload: the guest page's content, folded into the VRAM page.
    const uint64_t guest = memory_ != nullptr ? memory_->dma_read_page(first_page_ + offset) : 0;
    vram_.write_page(cmd.pages[i], mix64(guest ^ cmd.key));
    return;
  }
  const uint64_t value = mix64(vram_.token(cmd.pages[i]) ^ cmd.key);
  if (memory_ != nullptr) memory_->dma_write_page(first_page_ + offset, value);
  if (logging_) log_.set(offset);
}

std::vector<uint64_t> DmaEngine::take_logged(uint64_t first, uint64_t count) {
  std::vector<uint64_t> out;
  const uint64_t lo = first > first_page_ ? first - first_page_ : 0;
  const uint64_t end = first + count;
  if (end <= first_page_) return out;
  const uint64_t hi = std::min(pages_, end - first_page_);
  for (uint64_t p = lo; p < hi; ++p) {
    if (log_.test(p)) {
      out.push_back(first_page_ + p);
      log_.clear(p);
    }
  }
  return out;
}

CommandProcessor::CommandProcessor(sc_core::sc_module_name name, RunControl& run,
                                   Bar0Registers& regs, std::vector<RingState>& rings,
                                   std::vector<Engine*> engines)
    : sc_core::sc_module(name),
      run_(run),
      regs_(regs),
      rings_(rings),
      engines_(std::move(engines)) {
  SC_THREAD(thread);
}

// Highest PRIORITY first; among equals, round robin from rr_. A context whose
// head command targets a busy engine is skipped, not blocked on. The command
// starts on its engine no earlier than `at`.
bool CommandProcessor::dispatch_one(const sc_core::sc_time& at) {
  const uint32_t n = regs_.contexts();
  int best = -1;
  uint32_t best_prio = 0;
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t c = (rr_ + k) % n;
    const uint32_t rptr = regs_.ctx(c, kRptr), wptr = regs_.ctx(c, kWptr);
    if (rptr == wptr) continue;
    const Command& head = rings_[c].entries[rptr];
    if (!engines_[static_cast<size_t>(head.engine)]->idle()) continue;
    const uint32_t prio = regs_.ctx(c, kPriority);
    if (best < 0 || prio > best_prio) {
      best = static_cast<int>(c);
      best_prio = prio;
    }
  }
  if (best < 0) return false;
  const auto c = static_cast<uint32_t>(best);
  const uint32_t rptr = regs_.ctx(c, kRptr);
  Command& slot = rings_[c].entries[rptr];
  Engine* e = engines_[static_cast<size_t>(slot.engine)];
  e->start(slot);
  e->not_before(at);
  slot = Command{};  // consumed slots are blank, so ring state compares exactly
  regs_.set_ctx(c, kRptr, (rptr + 1) % kRingEntries);
  rr_ = (c + 1) % n;
  return true;
}

void CommandProcessor::dispatch_all(const sc_core::sc_time& at) {
  while (dispatch_one(at)) {
  }
}

// Page by page in local-time order; equal times go in engine order (compute,
// copy, dma), so the interleaving of VRAM reads and writes is fixed.
void CommandProcessor::run_engines(const sc_core::sc_time& until) {
  for (;;) {
    Engine* next = nullptr;
    for (Engine* e : engines_)
      if (!e->idle() && e->ready_at() < until &&
          (next == nullptr || e->ready_at() < next->ready_at()))
        next = e;
    if (next == nullptr) return;
    if (next->may_fault()) {
      // Post-copy: catch up to the page's true time, raise the fault there,
      // and wait (the whole device: one process sequences its engines).
      const sc_core::sc_time now = sc_core::sc_time_stamp();
      if (next->ready_at() > now) wait(next->ready_at() - now);
      next->touch_next();
      if (!run_.running) return;
      for (Engine* e : engines_) e->not_before(sc_core::sc_time_stamp());
    }
    if (next->step()) dispatch_all(next->ready_at());
  }
}

void CommandProcessor::update_status() {
  bool busy = false;
  for (Engine* e : engines_) busy |= !e->idle();
  regs_.set(kStatus, 1u | (busy ? 2u : 0u));
}

void CommandProcessor::thread() {
  using sc_core::sc_time;
  for (;;) {
    // Act after every input of this instant: the guest driver and the VMM are
    // timed processes and act in an instant's first delta cycle; this process
    // acts in a later one, so the two never race within a delta cycle.
    wait(sc_core::SC_ZERO_TIME);
    if (!run_.running) {
      // Stop means stop: nothing more happens until the device runs again.
      wait(run_.resumed);
      continue;
    }
    const sc_time now = sc_core::sc_time_stamp();
    for (Engine* e : engines_) e->not_before(now);  // no work in the past
    update_status();
    dispatch_all(now);
    // Loosely timed: run ahead of the kernel to the end of this quantum.
    sc_time quantum = tlm::tlm_global_quantum::instance().compute_local_quantum();
    if (quantum == sc_core::SC_ZERO_TIME) quantum = sc_core::sc_get_time_resolution();
    run_engines(now + quantum);
    update_status();
    // Next: when the earliest busy engine's next page is due, or new work.
    bool busy = false;
    sc_time next = sc_core::sc_max_time();
    for (Engine* e : engines_)
      if (!e->idle()) {
        busy = true;
        if (e->ready_at() < next) next = e->ready_at();
      }
    const sc_time after = sc_core::sc_time_stamp();  // later than `now` after a post-copy stall
    if (busy)
      wait(next > after ? next - after : sc_core::sc_get_time_resolution(),
           run_.work | run_.resumed);
    else
      wait(run_.work | run_.resumed);
  }
}

}  // namespace mdevsim::models
