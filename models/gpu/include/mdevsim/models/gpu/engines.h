// The device's execution blocks: interrupt controller, the two VRAM engines
// (compute, copy), the DMA engine into guest RAM, and the command processor
// that feeds them from the context rings. One sc_module per hardware block.
//
// Work in flight is captured, not drained: an engine stops at the next page
// boundary and its (command, progress) is part of the saved state, so a
// command interrupted by migration finishes on the destination exactly as it
// would have on the source.
//
// Determinism: the engines share VRAM (the copy engine reads pages the compute
// engine writes), so the order in which their pages happen decides the
// result. The engines therefore have no SystemC processes of their own: one
// process per device, the command processor's, sequences every page of every
// engine by its (loosely timed) local time, ties broken by engine id, and
// dispatches commands as engines complete. What a device does is a function of
// its state, its inputs and the instants at which it runs — never of the
// kernel's order among processes runnable at the same instant (which depends
// on every other module in the simulation).
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>

#include "mdevsim/models/gpu/bar0_registers.h"
#include "mdevsim/models/gpu/command.h"
#include "mdevsim/models/gpu/vram.h"
#include "mdevsim/models/memory/dirty_bitmap.h"
#include "mdevsim/models/memory/guest_memory.h"
#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models {

// Shared run/stop control every block obeys.
struct RunControl {
  bool running = true;
  sc_core::sc_event resumed;
  sc_core::sc_event work;  // a doorbell rang or an engine went idle
};

class InterruptController : public sc_core::sc_module {
 public:
  InterruptController(sc_core::sc_module_name name, Bar0Registers& regs)
      : sc_core::sc_module(name), regs_(regs) {}
  // Engine `e` completed a command: latch its status bit; count an interrupt
  // delivered to the guest when the bit is unmasked.
  void raise(EngineId e) {
    const uint32_t bit = 1u << static_cast<uint32_t>(e);
    regs_.set(kIntrStatus, regs_.get(kIntrStatus) | bit);
    if (regs_.get(kIntrMask) & bit) regs_.set(kIrqCount, regs_.get(kIrqCount) + 1);
  }

 private:
  Bar0Registers& regs_;
};

struct EngineState {
  bool busy = false;
  Command cmd;
  uint32_t progress = 0;  // pages of cmd already done
  uint64_t commands_done = 0;
  uint64_t pages_done = 0;
  uint64_t dma_cursor = 0;  // DMA engine: next page within the DMA buffer
  bool operator==(const EngineState&) const = default;
  void save(StateWriter& w) const;
  static EngineState load(StateReader& r, uint64_t vram_pages);
};

// Compute, copy and DMA engines share the start/page/complete skeleton and
// differ in what one page of work does. They are driven by the command
// processor (see above).
class Engine : public sc_core::sc_module {
 public:
  Engine(sc_core::sc_module_name name, EngineId id, RunControl& run, Bar0Registers& regs,
         InterruptController& irq, Vram& vram, double bytes_per_s, uint32_t page_size);

  EngineId id() const { return id_; }
  bool idle() const { return !state_.busy; }
  void start(const Command& cmd);
  const EngineState& state() const { return state_; }
  void load_state(const EngineState& s) {
    state_ = s;
    restart_clock();
    run_.work.notify(sc_core::SC_ZERO_TIME);
  }
  void reset() {
    state_ = EngineState{};
    restart_clock();
  }

  // Loosely timed local clock (not migrated state: timing only): the instant
  // at which this engine's next page begins; it runs ahead of the kernel by
  // up to a quantum. A resumed or restored engine restarts from the current
  // instant, so a device continues the same way whatever it did before.
  sc_core::sc_time ready_at() const { return ready_at_; }
  void restart_clock() { ready_at_ = sc_core::sc_time_stamp(); }
  void not_before(const sc_core::sc_time& t) {
    if (ready_at_ < t) ready_at_ = t;
  }
  // One page of the current command at ready_at(); true when that page
  // completed the command. Only for a busy engine.
  bool step();
  // Post-copy: whether VRAM has missing pages, and the fault-and-wait for
  // the pages the next step touches (from the device's SystemC thread).
  bool vram_missing() const { return vram_.missing_count() > 0; }
  // Whether the next step may fault (VRAM, or guest RAM for DMA reads).
  virtual bool may_fault() const { return vram_missing(); }
  void touch_next() { touch_pages(state_.cmd, state_.progress); }

 protected:
  virtual void do_page(const Command& cmd, uint32_t i) = 0;
  // VRAM pages one step reads or writes (post-copy faults on missing ones).
  virtual void touch_pages(const Command& cmd, uint32_t i) { vram_.touch(cmd.pages[i]); }
  Vram& vram_;
  EngineState state_;

 private:
  EngineId id_;
  RunControl& run_;
  Bar0Registers& regs_;
  InterruptController& irq_;
  sc_core::sc_time page_time_;
  sc_core::sc_time ready_at_ = sc_core::SC_ZERO_TIME;
};

class ComputeEngine : public Engine {
 public:
  using Engine::Engine;

 protected:
  // A kernel writes each listed page with values from the command's stream.
  void do_page(const Command& cmd, uint32_t i) override;
};

class CopyEngine : public Engine {
 public:
  using Engine::Engine;

 protected:
  // Copies the next listed page onto this one (a blit within VRAM).
  void do_page(const Command& cmd, uint32_t i) override;
  void touch_pages(const Command& cmd, uint32_t i) override {
    if (!cmd.read_only) vram_.touch(cmd.pages[(i + 1) % cmd.count]);
    vram_.touch(cmd.pages[i]);
  }
};

class DmaEngine : public Engine {
 public:
  DmaEngine(sc_core::sc_module_name name, RunControl& run, Bar0Registers& regs,
            InterruptController& irq, Vram& vram, double bytes_per_s, uint32_t guest_page_size,
            uint64_t buffer_first_page, uint64_t buffer_pages);

  void attach(GuestMemory* memory) { memory_ = memory; }
  uint64_t buffer_first_page() const { return first_page_; }
  uint64_t buffer_pages() const { return pages_; }

  // DMA write logging (device-side dirty tracking of guest RAM).
  void start_logging() {
    log_.clear_all();
    logging_ = true;
  }
  void stop_logging() {
    logging_ = false;
    log_.clear_all();
  }
  bool logging() const { return logging_; }
  // Guest pages (guest page units) written since the last report within
  // [first, first+count); clears what it returns.
  std::vector<uint64_t> take_logged(uint64_t first, uint64_t count);
  bool may_fault() const override {
    return vram_missing() || (memory_ != nullptr && memory_->dma_may_fault());
  }

 protected:
  // Reads a VRAM page and writes the result into the next guest page of the
  // DMA buffer (readback of results into guest memory); an upload reads the
  // next guest page of the buffer into the VRAM page instead.
  void do_page(const Command& cmd, uint32_t i) override;
  // An upload's guest page faults in post-copy (option P2) before its VRAM page.
  void touch_pages(const Command& cmd, uint32_t i) override {
    if (cmd.from_guest && memory_ != nullptr && pages_ > 0)
      memory_->dma_touch_page(first_page_ + state_.dma_cursor);
    vram_.touch(cmd.pages[i]);
  }

 private:
  GuestMemory* memory_ = nullptr;
  uint64_t first_page_, pages_;
  bool logging_ = false;
  DirtyBitmap log_;
};

// Feeds the engines from the context rings and sequences them: the device's
// only SystemC process (see the note at the top).
class CommandProcessor : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CommandProcessor);
  CommandProcessor(sc_core::sc_module_name name, RunControl& run, Bar0Registers& regs,
                   std::vector<RingState>& rings, std::vector<Engine*> engines);
  uint32_t next_context() const { return rr_; }
  void set_next_context(uint32_t c) { rr_ = c; }

 private:
  void thread();
  // Runs every engine up to `until` (page by page in local-time order),
  // dispatching as engines complete.
  void run_engines(const sc_core::sc_time& until);
  bool dispatch_one(const sc_core::sc_time& at);
  void dispatch_all(const sc_core::sc_time& at);
  void update_status();
  RunControl& run_;
  Bar0Registers& regs_;
  std::vector<RingState>& rings_;
  std::vector<Engine*> engines_;
  uint32_t rr_ = 0;  // round-robin start among equal priorities (state)
};

}  // namespace mdevsim::models
