#include "mdevsim/sim/host.h"

#include "mdevsim/models/common/rng.h"
#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/vfio/mig_fsm.h"

namespace mdevsim::sim {

namespace {
constexpr double kVcpuSlice = 0.001;  // vCPU writes are issued per 1 ms slice
}

Vcpus::Vcpus(sc_core::sc_module_name name, GuestRam& ram,
             const std::vector<models::PatternSpec>& patterns, uint64_t seed)
    : sc_core::sc_module(name),
      ram_(ram),
      streams_(models::make_page_streams(patterns, ram.store.page_count(), ram.store.page_size(),
                                         seed)) {
  const uint64_t values = models::mix64(seed ^ 0xc0ffeeULL);
  for (size_t k = 0; k < streams_.size(); ++k)
    seeds_.push_back(k == 0 ? values : models::mix64(values + k));
  state_.streams.assign(streams_.size(), 0);
  SC_THREAD(thread);
}

void Vcpus::thread() {
  for (;;) {
    wait(sc_core::sc_time::from_seconds(kVcpuSlice));
    if (!running_) continue;
    // A throttled guest runs (1 - p) of each slice (QEMU's CPU throttle).
    state_.active_s += kVcpuSlice * (1.0 - throttle_);
    for (size_t k = 0; k < streams_.size(); ++k) {
      const auto& st = streams_[k];
      uint64_t& pos = state_.streams[k];
      const uint64_t due = st.gen.writes_until(state_.active_s);
      if (st.reads && ram_.missing.count() == 0) {
        state_.submitted += due - pos;  // a read of a present page changes nothing
        pos = due;
        continue;
      }
      for (; pos < due; ++pos, ++state_.submitted) {
        const uint64_t page = st.gen.page_of(pos);
        ram_.missing.touch(page);  // post-copy: a missing page blocks this vCPU until it arrives
        if (!st.reads) ram_.store.write(page, models::stream_value(seeds_[k], pos));
      }
    }
  }
}

vfio::FrontendOptions frontend_options(const Scenario& s, bool source) {
  vfio::FrontendOptions o;
  o.protocol = s.device.protocol == "v1" ? vfio::Protocol::kV1 : vfio::Protocol::kV2;
  std::string list;
  for (const auto& f : s.device.features) list += (list.empty() ? "" : ",") + f;
  o.protocol_def = s.device.protocol_def;
  o.migration_flags = s.device.protocol_def
                          ? s.device.protocol_def->parse_features(list).value_or(1)
                          : vfio::parse_features(list).value_or(1);
  o.postcopy_hot_first = s.migration.hot_first;
  o.v1_strict = s.device.v1_strict;
  o.precopy_empty_enomsg = s.device.precopy_enomsg;
  if (s.device.kernel_before_2025) o.kernel = vfio::KernelGeneration::kBefore2025;
  o.guest_ram_bytes = s.vm.ram_bytes;
  o.guest_page_size = s.vm.page_size;
  o.v1_data_section_size = 1 << 20;
  if (source && s.device.corrupt_stream_at) o.corrupt_save_stream_at = s.device.corrupt_stream_at;
  if (source && s.device.fail_arc) {
    const auto& [a, b] = *s.device.fail_arc;
    if (o.protocol == vfio::Protocol::kV1) {
      const auto x = vfio::v1::parse(a), y = vfio::v1::parse(b);
      if (x && y) o.fail_arc = std::make_pair(*x, *y);
    } else {
      const auto& proto =
          s.device.protocol_def ? *s.device.protocol_def : vfio::builtin_protocol_v2();
      const auto x = proto.find(a), y = proto.find(b);
      if (x && y) o.fail_arc = std::make_pair(proto.states[*x].value, proto.states[*y].value);
    }
  }
  return o;
}

namespace {
// The destination's memories start empty: resident content arrives.
models::DeviceConfig side_config(const Scenario& s, bool source) {
  models::DeviceConfig c = s.device.config;
  c.resident_loaded = source;
  return c;
}
}  // namespace

Host::Host(sc_core::sc_module_name name, const Scenario& s, bool source)
    : sc_core::sc_module(name),
      device_(models::make_device(s.device.type, "device", side_config(s, source))),
      driver_(models::make_guest_driver("driver", *device_, s.workload, s.seed)),
      ram(s.vm.ram_bytes, s.vm.page_size),
      ram_port("ram", ram, s.vm.page_size),
      vcpus("vcpus", ram, s.guest_patterns(), s.seed),
      frontend(*device_, frontend_options(s, source)) {
  device_->bind_guest_memory(ram_port);
  if (!s.vm.resident.empty()) {
    ram.store.set_content_salt(models::mix64(s.seed ^ 0x72616d636f6e74ULL));
    if (source)
      for (const auto& r : s.vm.resident) ram.store.make_resident(r.first_page, r.pages);
  }
}

void Host::load_guest_state_from(const Host& source) {
  models::copy_guest_driver_state(*device_, *driver_, *source.driver_);
  vcpus.load_state(source.vcpus.state());
}

}  // namespace mdevsim::sim
