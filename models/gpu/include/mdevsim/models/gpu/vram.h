// Device memory. Engines write pages through write_page(), a direct call in
// the spirit of TLM DMI: a b_transport per page write would cost more than
// the page write itself and buy no timing accuracy at this abstraction. The
// TLM socket serves single 8-byte token reads/writes (debug and host access).
#pragma once

#include <cstring>
#include <utility>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"

namespace mdevsim::models {

class Vram : public sc_core::sc_module {
 public:
  // Optional: a device without a host-side initiator is still complete.
  tlm_utils::simple_target_socket_optional<Vram> socket;

  Vram(sc_core::sc_module_name name, uint64_t size_bytes, uint32_t page_size)
      : sc_core::sc_module(name), socket("socket"), store_(size_bytes, page_size) {
    socket.register_b_transport(this, &Vram::b_transport);
  }

  void write_page(uint64_t page, uint64_t value) { store_.write(page, value); }

  uint64_t token(uint64_t page) const { return store_.token(page); }
  PageStore& store() { return store_; }
  const PageStore& store() const { return store_; }

  // ---- post-copy: pages still at the source (GPU MMU: reads and partial
  // writes both need the old content, so any touch faults).
  void set_missing(const std::vector<uint64_t>& pages) { missing_.reset(store_.page_count(), pages); }
  uint64_t missing_count() const { return missing_.count(); }
  bool missing(uint64_t page) const { return missing_.test(page); }
  // Fills a missing page with the source's content (no-op if present).
  bool place_page(uint64_t page, uint64_t token) {
    if (!missing_.test(page)) return false;
    store_.set_token(page, token);
    missing_.fill(page);
    placed_.emplace_back(page, token);
    return true;
  }
  void touch(uint64_t page) { missing_.touch(page); }  // from the device's SystemC thread
  std::vector<uint64_t> take_faults() { return missing_.take_faults(); }
  const sc_core::sc_event& fault_raised() const { return missing_.fault_raised(); }
  uint64_t faults() const { return missing_.faults(); }
  const std::vector<double>& stalls() const { return missing_.stalls(); }
  const std::vector<MissingPages::FaultRecord>& fault_log() const { return missing_.fault_log(); }
  // Pages placed during post-copy with the content they arrived with.
  const std::vector<std::pair<uint64_t, uint64_t>>& placed() const { return placed_; }

 private:
  // Address = page * page_size; data = the page's 8-byte content token.
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    const uint64_t page = trans.get_address() / store_.page_size();
    if (trans.get_data_length() != 8 || page >= store_.page_count()) {
      trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (trans.is_read()) {
      const uint64_t t = store_.token(page);
      std::memcpy(trans.get_data_ptr(), &t, 8);
    } else {
      uint64_t v;
      std::memcpy(&v, trans.get_data_ptr(), 8);
      store_.write(page, v);
    }
    delay += sc_core::sc_time(100, sc_core::SC_NS);
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
  }

  PageStore store_;
  MissingPages missing_;
  std::vector<std::pair<uint64_t, uint64_t>> placed_;
};

}  // namespace mdevsim::models
