// What the VMM has of its own VM on each host, apart from the devices (which
// it reaches only through the VFIO ABI, vmm/vfio_client.h): guest RAM with
// its dirty log (QEMU: RAM blocks and KVM dirty logging), userfaultfd-style
// missing pages on a post-copy destination, and vCPU control. Implemented
// over the simulated hosts in sim/src/migration.cpp.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <systemc>

namespace mdevsim::sim::vmm {

// A set of guest pages as one bit per page (page p: bit p % 64 of word
// p / 64) and its count: a pass's pages. A 1 TiB VM's 268 M pages cost
// 32 MiB here, not 2 GiB of page numbers.
struct PageBits {
  std::vector<uint64_t> words;
  uint64_t count = 0;
};

class GuestRamPort {
 public:
  virtual ~GuestRamPort() = default;
  virtual uint64_t page_count() const = 0;
  virtual uint64_t token(uint64_t page) const = 0;  // page content; 0: a zero page
  virtual uint64_t touched_pages() const = 0;       // pages ever written
  // Dirty log: the first pass marks every touched page; then vCPU writes.
  virtual void mark_touched_dirty() = 0;
  virtual void start_dirty_log() = 0;
  virtual void mark_dirty(uint64_t page) = 0;
  virtual uint64_t dirty_count() const = 0;
  // Moves the dirty set into `pass` and clears the log. `pass` is empty or
  // all clear (its words are reused as the log's).
  virtual void collect_dirty(PageBits& pass) = 0;
  // The destination side.
  virtual void set_token(uint64_t page, uint64_t token) = 0;
  // Bulk forms (a save pass walks 64 pages a word; defaults: page by page).
  // out[i] = token(64 word + i) for each bit i of `mask`; others untouched.
  virtual void tokens(uint64_t word, uint64_t mask, uint64_t* out) const {
    for (; mask != 0; mask &= mask - 1) {
      const auto i = static_cast<unsigned>(std::countr_zero(mask));
      out[i] = token(word * 64 + i);
    }
  }
  // set_token() for each (page, token), in order.
  virtual void set_tokens(std::span<const std::pair<uint64_t, uint64_t>> pages) {
    for (const auto& [p, t] : pages) set_token(p, t);
  }
  // Resident content: pages still holding what both hosts' memories were
  // loaded with (the same image) can be handed over as bits, 64 a word. The
  // wire still carries and counts their bytes; only the simulator skips
  // computing their content at either end. Defaults: there are none.
  virtual bool shares_resident_content(const GuestRamPort& /*destination*/) const { return false; }
  // The pages of `mask` in bit word `word` that hold their resident content.
  virtual uint64_t resident_bits(uint64_t /*word*/, uint64_t /*mask*/) const { return 0; }
  // The destination side: those pages take their resident content.
  virtual void set_resident_bits(uint64_t /*word*/, uint64_t /*mask*/) {}
  // Post-copy destination (userfaultfd): pages still at the source.
  virtual void set_missing(const std::vector<uint64_t>& pages) = 0;
  virtual bool missing(uint64_t page) const = 0;
  virtual uint64_t missing_count() const = 0;
  virtual std::vector<uint64_t> take_faults() = 0;
  virtual const sc_core::sc_event& fault_event() const = 0;
  // Places a missing page; true when it was missing.
  virtual bool place(uint64_t page, uint64_t token) = 0;
};

class VmPort {
 public:
  virtual ~VmPort() = default;
  virtual void set_running(bool running) = 0;  // vCPUs and the guest's use of the device
  virtual void set_throttle(double fraction) = 0;
  // The vCPU and guest-driver state move with the VM.
  virtual void load_cpu_state_from(const VmPort& source) = 0;
};

}  // namespace mdevsim::sim::vmm
