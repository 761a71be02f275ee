// Guest memory as a TLM-2.0 target: what the device DMA engine's initiator
// socket is bound to. Address: guest-physical byte address (IOVA == GPA, no
// vIOMMU), page aligned; data: the 8-byte content token the device writes
// into or read from that guest page (a page store's unit of content).
#pragma once

#include <cstring>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "mdevsim/models/memory/guest_memory.h"

namespace mdevsim::models {

class GuestMemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<GuestMemoryTarget> socket;

  GuestMemoryTarget(sc_core::sc_module_name name, GuestMemory& memory, uint32_t page_size)
      : sc_core::sc_module(name), socket("socket"), memory_(memory), page_size_(page_size) {
    socket.register_b_transport(this, &GuestMemoryTarget::b_transport);
  }
  uint32_t page_size() const { return page_size_; }
  GuestMemory& memory() { return memory_; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& /*delay*/) {
    if ((!trans.is_write() && !trans.is_read()) || trans.get_data_length() != 8 ||
        trans.get_address() % page_size_ != 0) {
      trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
      return;
    }
    const uint64_t page = trans.get_address() / page_size_;
    uint64_t value = 0;
    if (trans.is_write()) {
      std::memcpy(&value, trans.get_data_ptr(), 8);
      memory_.dma_write_page(page, value);
    } else {
      value = memory_.dma_read_page(page);
      std::memcpy(trans.get_data_ptr(), &value, 8);
    }
    // No delay annotated: the DMA engine's page time (page bytes over its
    // bandwidth) is the whole cost of a page moved; a delay here would count
    // it twice.
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
  }

  GuestMemory& memory_;
  uint32_t page_size_;
};

}  // namespace mdevsim::models
