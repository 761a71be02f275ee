// The TLM-2.0 global quantum: how far the loosely timed models (the device's
// engines) may run ahead of the SystemC kernel. Global to the simulation, so
// the simulation's builder sets it, once, before elaboration; the models only
// read it.
#pragma once

#include <systemc>
#include <tlm>

namespace mdevsim::models {

inline sc_core::sc_time default_quantum() { return sc_core::sc_time(100, sc_core::SC_US); }

// Sets the models' default quantum unless the builder already chose one.
inline void set_default_quantum_if_unset() {
  auto& q = tlm::tlm_global_quantum::instance();
  if (q.get() == sc_core::SC_ZERO_TIME) q.set(default_quantum());
}

}  // namespace mdevsim::models
