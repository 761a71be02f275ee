// BAR0: the device's MMIO register file, described by tables.
//
// Global registers come from kGlobalRegisters; each context owns a block of
// kContextRegisters at kContextBase + ctx * kContextStride. Guest accesses
// arrive as TLM transactions on `socket`; the device updates RO registers
// through set(). Every register value is device state and migrates.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "mdevsim/models/stream/state_io.h"

namespace mdevsim::models {

enum class Access : uint8_t { kRO, kRW, kW1C };

struct RegisterSpec {
  uint32_t offset;
  const char* name;
  uint32_t reset;
  Access access;
};

// Global register indices (position in kGlobalRegisters).
enum GlobalReg : uint32_t {
  kDeviceId,
  kRevision,
  kControl,
  kStatus,
  kIntrStatus,
  kIntrMask,
  kFenceCompleted,
  kIrqCount,
  kGlobalRegCount
};
// Per-context register indices (position in kContextRegisters).
enum ContextReg : uint32_t {
  kRingBaseLo,
  kRingBaseHi,
  kRingSize,
  kRptr,
  kWptr,
  kPtBaseLo,
  kPtBaseHi,
  kPriority,
  kContextRegCount
};

inline constexpr std::array<RegisterSpec, kGlobalRegCount> kGlobalRegisters{{
    {0x000, "DEVICE_ID", 0x4d445631, Access::kRO},  // "MDV1"
    {0x004, "REVISION", 0x00010000, Access::kRO},
    {0x008, "CONTROL", 0x00000001, Access::kRW},       // bit 0: engines enabled
    {0x00c, "STATUS", 0x00000000, Access::kRO},        // bit 0: running, bit 1: busy
    {0x010, "INTR_STATUS", 0x00000000, Access::kW1C},  // bit e: engine e completed work
    {0x014, "INTR_MASK", 0x00000007, Access::kRW},
    {0x018, "FENCE_COMPLETED", 0x00000000, Access::kRO},
    {0x01c, "IRQ_COUNT", 0x00000000, Access::kRO},
}};

inline constexpr uint32_t kContextBase = 0x1000;
inline constexpr uint32_t kContextStride = 0x40;
inline constexpr uint32_t kRingEntries = 64;

inline constexpr std::array<RegisterSpec, kContextRegCount> kContextRegisters{{
    {0x00, "RING_BASE_LO", 0, Access::kRW},
    {0x04, "RING_BASE_HI", 0, Access::kRW},
    {0x08, "RING_SIZE", kRingEntries, Access::kRO},
    {0x0c, "RPTR", 0, Access::kRO},  // advanced by the command processor
    {0x10, "WPTR", 0, Access::kRW},  // doorbell: the driver's write pointer
    {0x14, "PT_BASE_LO", 0, Access::kRW},
    {0x18, "PT_BASE_HI", 0, Access::kRW},
    {0x1c, "PRIORITY", 0, Access::kRW},  // higher is served first
}};

struct RegisterState {
  std::vector<uint32_t> values;  // globals, then contexts × kContextRegCount
  bool operator==(const RegisterState&) const = default;
};

class Bar0Registers : public sc_core::sc_module {
 public:
  // Optional: the register file is complete without a guest driver bound.
  tlm_utils::simple_target_socket_optional<Bar0Registers> socket;

  Bar0Registers(sc_core::sc_module_name name, uint32_t contexts);

  uint32_t contexts() const { return contexts_; }
  uint32_t size_bytes() const { return kContextBase + contexts_ * kContextStride; }

  // Guest view, with access rules and side effects. Returns false for an
  // offset that maps no register (the TLM reply is an address error then).
  bool guest_read(uint32_t offset, uint32_t& value) const;
  bool guest_write(uint32_t offset, uint32_t value);

  // Device view: no access rules, no side effects.
  uint32_t get(GlobalReg r) const { return state_.values[r]; }
  void set(GlobalReg r, uint32_t v) { state_.values[r] = v; }
  uint32_t ctx(uint32_t c, ContextReg r) const { return state_.values[index(c, r)]; }
  void set_ctx(uint32_t c, ContextReg r, uint32_t v) { state_.values[index(c, r)] = v; }

  // Side effect of a doorbell (WPTR write) or INTR write, installed by the device.
  std::function<void(uint32_t ctx)> on_doorbell;
  // When false (device stopped), guest writes are dropped: stop means stop.
  std::function<bool()> accepts_writes;

  void reset();
  const RegisterState& state() const { return state_; }
  void load_state(const RegisterState& s) { state_ = s; }
  void save(StateWriter& w) const;
  RegisterState load(StateReader& r) const;  // validates; does not apply

  // Name of the register at an offset ("ctx[3].WPTR"), or "" if none.
  std::string name_at(uint32_t offset) const;
  // Names of all registers in state order, for field-by-field comparison.
  std::vector<std::string> field_names() const;

 private:
  static uint32_t index_global(GlobalReg r) { return r; }
  uint32_t index(uint32_t c, ContextReg r) const {
    return kGlobalRegCount + c * kContextRegCount + r;
  }
  std::optional<uint32_t> decode(uint32_t offset, const RegisterSpec*& spec) const;
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

  uint32_t contexts_;
  RegisterState state_;
};

}  // namespace mdevsim::models
