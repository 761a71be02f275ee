#include "mdevsim/models/gpu/bar0_registers.h"

#include <cstring>

namespace mdevsim::models {

Bar0Registers::Bar0Registers(sc_core::sc_module_name name, uint32_t contexts)
    : sc_core::sc_module(name), socket("socket"), contexts_(contexts) {
  socket.register_b_transport(this, &Bar0Registers::b_transport);
  reset();
}

void Bar0Registers::reset() {
  state_.values.assign(kGlobalRegCount + contexts_ * kContextRegCount, 0);
  for (uint32_t r = 0; r < kGlobalRegCount; ++r) state_.values[r] = kGlobalRegisters[r].reset;
  for (uint32_t c = 0; c < contexts_; ++c)
    for (uint32_t r = 0; r < kContextRegCount; ++r)
      state_.values[index(c, static_cast<ContextReg>(r))] = kContextRegisters[r].reset;
}

std::optional<uint32_t> Bar0Registers::decode(uint32_t offset, const RegisterSpec*& spec) const {
  if (offset % 4 != 0) return std::nullopt;
  if (offset < kContextBase) {
    for (uint32_t r = 0; r < kGlobalRegCount; ++r) {
      if (kGlobalRegisters[r].offset == offset) {
        spec = &kGlobalRegisters[r];
        return r;
      }
    }
    return std::nullopt;
  }
  const uint32_t c = (offset - kContextBase) / kContextStride;
  const uint32_t within = (offset - kContextBase) % kContextStride;
  if (c >= contexts_ || within / 4 >= kContextRegCount) return std::nullopt;
  spec = &kContextRegisters[within / 4];
  return index(c, static_cast<ContextReg>(within / 4));
}

bool Bar0Registers::guest_read(uint32_t offset, uint32_t& value) const {
  const RegisterSpec* spec = nullptr;
  const auto i = decode(offset, spec);
  if (!i) return false;
  value = state_.values[*i];
  return true;
}

bool Bar0Registers::guest_write(uint32_t offset, uint32_t value) {
  const RegisterSpec* spec = nullptr;
  const auto i = decode(offset, spec);
  if (!i) return false;
  if (accepts_writes && !accepts_writes()) return true;  // stopped: dropped, no state change
  switch (spec->access) {
    case Access::kRO:
      return true;  // writes to read-only registers are ignored, as on most hardware
    case Access::kW1C:
      state_.values[*i] &= ~value;
      return true;
    case Access::kRW:
      state_.values[*i] = value;
      break;
  }
  if (offset >= kContextBase && spec == &kContextRegisters[kWptr]) {
    // The doorbell pointer wraps within the ring.
    state_.values[*i] = value % kRingEntries;
    if (on_doorbell) on_doorbell((offset - kContextBase) / kContextStride);
  }
  return true;
}

void Bar0Registers::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  if (trans.get_data_length() != 4 || trans.get_byte_enable_ptr() != nullptr) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  const auto offset = static_cast<uint32_t>(trans.get_address());
  uint32_t v = 0;
  bool ok;
  if (trans.is_read()) {
    ok = guest_read(offset, v);
    std::memcpy(trans.get_data_ptr(), &v, 4);
  } else {
    std::memcpy(&v, trans.get_data_ptr(), 4);
    ok = guest_write(offset, v);
  }
  delay += sc_core::sc_time(10, sc_core::SC_NS);  // an uncached MMIO access
  trans.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

void Bar0Registers::save(StateWriter& w) const {
  w.u64(state_.values.size());
  for (uint32_t v : state_.values) w.u32(v);
}

RegisterState Bar0Registers::load(StateReader& r) const {
  RegisterState s;
  const uint64_t n = r.count("register count", 1 << 20);
  if (n != state_.values.size())
    throw StateFormatError("register file has " + std::to_string(n) + " registers, expected " +
                           std::to_string(state_.values.size()));
  s.values.resize(n);
  for (auto& v : s.values) v = r.u32("register value");
  for (uint32_t c = 0; c < contexts_; ++c) {
    if (s.values[index(c, kRptr)] >= kRingEntries || s.values[index(c, kWptr)] >= kRingEntries)
      throw StateFormatError("ctx[" + std::to_string(c) + "] ring pointer out of range");
  }
  return s;
}

std::string Bar0Registers::name_at(uint32_t offset) const {
  const RegisterSpec* spec = nullptr;
  if (!decode(offset, spec)) return "";
  if (offset < kContextBase) return spec->name;
  return "ctx[" + std::to_string((offset - kContextBase) / kContextStride) + "]." + spec->name;
}

std::vector<std::string> Bar0Registers::field_names() const {
  std::vector<std::string> names;
  for (const auto& r : kGlobalRegisters) names.emplace_back(r.name);
  for (uint32_t c = 0; c < contexts_; ++c)
    for (const auto& r : kContextRegisters)
      names.push_back("ctx[" + std::to_string(c) + "]." + r.name);
  return names;
}

}  // namespace mdevsim::models
