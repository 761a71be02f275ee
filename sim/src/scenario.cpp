// Scenario loading: strict JSON (comments allowed), units, --set overrides,
// and errors that name the file, the JSON pointer and what is wrong.
#include "mdevsim/sim/scenario.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "mdevsim/models/factory/device_factory.h"
#include "mdevsim/models/workload/workload_pattern.h"
#include "mdevsim/sim/units.h"
#include "scenario_reader.h"

namespace mdevsim::sim {

namespace {

using namespace scenario_io;

void read_device(Obj& o, Scenario& s, const std::filesystem::path& base_dir) {
  auto& d = s.device;
  auto& c = d.config;
  d.type = o.str("type", d.type);
  if (models::find_device_type(d.type) == nullptr)
    o.fail("type",
           "unknown device type '" + d.type + "' (known: " + models::device_type_names() + ")");
  c.page_size =
      static_cast<uint32_t>(std::min<uint64_t>(o.size("page_size", c.page_size), 1u << 30));
  if (!power_of_two(c.page_size) || c.page_size < 4096 || c.page_size > (2u << 20))
    o.fail_size("page_size", "must be a power of two between 4KiB and 2MiB");
  c.vram_bytes = o.size("vram", c.vram_bytes);
  if (c.vram_bytes < c.page_size || c.vram_bytes > (uint64_t{64} << 30))
    o.fail("vram", "must be between one page and 64GiB");
  if (c.vram_bytes % c.page_size) o.fail_size("vram", "must be a multiple of page_size");
  c.contexts = static_cast<uint32_t>(o.integer("contexts", c.contexts, 1, 256));
  c.engine_bandwidth = o.rate("engine_bandwidth", c.engine_bandwidth);
  if (!(c.engine_bandwidth > 0)) o.fail("engine_bandwidth", "must be > 0");
  c.stop_latency_s = o.duration("stop_latency", c.stop_latency_s);
  c.dma_buffer_bytes = o.size("dma_buffer", c.dma_buffer_bytes);
  d.protocol = o.str("protocol", d.protocol);
  if (d.protocol != "v1" && d.protocol != "v2") {
    try {
      d.protocol_def = std::make_shared<const vfio::ProtocolSpec>(
          vfio::resolve_protocol(d.protocol, base_dir.string()));
    } catch (const vfio::ProtocolError& e) {
      o.fail("protocol", e.what());
    }
    if (d.protocol_def->encoding != vfio::ProtocolSpec::Encoding::kEnum)
      o.fail("protocol",
             "'" + d.protocol +
                 "' is a v1-style (register bits) protocol: it can be printed and validated "
                 "with mdevsim fsm, but full runs support v2-style protocol files only");
  }
  if (o.has("features")) {
    const auto& f = o.get("features");
    if (!f.is_array())
      o.fail("features", "must be a list such as [\"stop_copy\", \"p2p\", \"pre_copy\"]");
    d.features.clear();
    for (size_t i = 0; i < f.size(); ++i) {
      const auto& proto = d.protocol_def ? *d.protocol_def : vfio::builtin_protocol_v2();
      if (!f[i].is_string() || !proto.parse_features(f[i].get<std::string>()))
        o.fail("features/" + std::to_string(i),
               "must be one of " + proto.features_name(proto.all_flags()) + "; got " + f[i].dump());
      d.features.push_back(f[i].get<std::string>());
    }
    if (std::find(d.features.begin(), d.features.end(), "stop_copy") == d.features.end())
      o.fail("features", "stop_copy is mandatory for protocol v2");
  }
  d.v1_strict = o.boolean("v1_strict", d.v1_strict);
  const std::string empty = o.str("precopy_empty", d.precopy_enomsg ? "enomsg" : "zero");
  if (empty != "enomsg" && empty != "zero")
    o.fail("precopy_empty", "must be \"enomsg\" or \"zero\"");
  d.precopy_enomsg = empty == "enomsg";
  const std::string kernel = o.str("kernel", d.kernel_before_2025 ? "before-2025" : "current");
  if (kernel != "current" && kernel != "before-2025")
    o.fail("kernel", "must be \"current\" or \"before-2025\"");
  d.kernel_before_2025 = kernel == "before-2025";
  d.resume_bandwidth = o.rate("resume_bandwidth", d.resume_bandwidth);
  if (!(d.resume_bandwidth > 0)) o.fail("resume_bandwidth", "must be > 0");
  // The source's own speed (issue 13): read-out rate and stop-copy cost.
  d.save_bandwidth = rate_or_unlimited(o, "save_bandwidth", d.save_bandwidth);
  d.save_fixed_cost_s = o.duration("save_fixed_cost", d.save_fixed_cost_s);
  if (!(d.save_fixed_cost_s >= 0) || d.save_fixed_cost_s > 3600)
    o.fail("save_fixed_cost", "must be between 0 and 1h");
  if (o.has("fail_arc")) {
    const auto& a = o.get("fail_arc");
    if (!a.is_array() || a.size() != 2 || !a[0].is_string() || !a[1].is_string())
      o.fail("fail_arc", "must be [\"FROM\", \"TO\"] state names");
    d.fail_arc = std::make_pair(a[0].get<std::string>(), a[1].get<std::string>());
  }
  if (o.has("corrupt_stream_at"))
    d.corrupt_stream_at = o.integer("corrupt_stream_at", 0, 0, UINT64_MAX);
  d.reject_stream = o.boolean("reject_stream", d.reject_stream);
  c.resident = read_resident(o, c.vram_bytes, c.page_size);
  o.finish();
}

Scenario build(const std::string& file, const json& root) {
  Scenario s;
  s.file = file;
  const auto base_dir = std::filesystem::path(file).parent_path();
  Obj top(file, root, "");
  s.name = top.str("name", std::filesystem::path(file).stem().string());
  s.description = top.str("description", "");
  s.seed = top.integer("seed", 1, 0, UINT64_MAX);
  s.duration_s = top.duration("duration", s.duration_s);
  if (!(s.duration_s > 0) || s.duration_s > 86400)
    top.fail("duration", "must be between 0 and 24h");
  if (top.has("device")) {
    Obj d(file, top.get("device"), "/device");
    read_device(d, s, base_dir);
  }
  if (top.has("vm")) {
    Obj v(file, top.get("vm"), "/vm");
    s.vm.page_size =
        static_cast<uint32_t>(std::min<uint64_t>(v.size("page_size", s.vm.page_size), 1u << 30));
    if (!power_of_two(s.vm.page_size) || s.vm.page_size < 4096 || s.vm.page_size > (2u << 20))
      v.fail_size("page_size", "must be a power of two between 4KiB and 2MiB");
    s.vm.ram_bytes = v.size("ram", s.vm.ram_bytes);
    if (s.vm.ram_bytes < s.vm.page_size || s.vm.ram_bytes > (uint64_t{1} << 40) ||
        s.vm.ram_bytes % s.vm.page_size)
      v.fail_size("ram", "must be a multiple of page_size between one page and 1TiB");
    s.vm.scan_bandwidth = rate_or_unlimited(v, "scan_bandwidth", s.vm.scan_bandwidth);
    s.vm.vcpus = static_cast<uint32_t>(v.integer("vcpus", s.vm.vcpus, 1, 1024));
    s.vm.dma_dirty_tracking = v.boolean("dma_dirty_tracking", true);
    s.vm.resident = read_resident(v, s.vm.ram_bytes, s.vm.page_size);
    v.finish();
  }
  s.device.config.guest_page_size = s.vm.page_size;
  if (s.device.config.dma_buffer_bytes > s.vm.ram_bytes)
    throw InputError(file, "/device/dma_buffer", "is larger than the VM's RAM");
  if (top.has("workload")) {
    const MemoryShape vram{s.device.config.vram_bytes, s.device.config.page_size,
                           s.device.config.resident, "/device/resident"};
    std::string driver_keys_at;  // the element that set dma_rate / submit_interval
    read_patterns(file, top.get("workload"), "/workload", [&](Obj& w, size_t i) {
      for (const char* key : {"dma_rate", "dma_read_rate", "submit_interval"}) {
        if (!w.has(key)) continue;
        if (!driver_keys_at.empty() && driver_keys_at != w.path())
          w.fail(key,
                 "dma_rate, dma_read_rate and submit_interval belong to the whole workload: "
                 "give them in one pattern only (already in " +
                     driver_keys_at + ")");
        driver_keys_at = w.path();
      }
      if (w.has("dma_rate")) s.workload.dma_rate_bytes_per_s = w.rate("dma_rate", 0);
      if (w.has("dma_read_rate")) s.workload.dma_read_rate_bytes_per_s = w.rate("dma_read_rate", 0);
      if (w.has("submit_interval")) {
        s.workload.submit_interval_s = w.duration("submit_interval", 0);
        // Each submission is a simulated event: at 1us a simulated second costs
        // about half a second of wall time, at 1ns minutes, with nothing to show.
        if (!(s.workload.submit_interval_s >= kMinSubmitInterval))
          w.fail("submit_interval",
                 "must be at least 1us (got " + format_duration(s.workload.submit_interval_s) +
                     "): every submission is a simulated event, so a run's wall time grows as "
                     "1/submit_interval (1ns would take minutes per simulated second)");
      }
      auto p = read_pattern(w, vram, base_dir, true);
      if (i == 0)
        s.workload.vram = std::move(p);
      else
        s.workload.concurrent.push_back(std::move(p));
    });
  }
  if (top.has("guest")) {
    const MemoryShape ram{s.vm.ram_bytes, s.vm.page_size, s.vm.resident, "/vm/resident"};
    read_patterns(file, top.get("guest"), "/guest", [&](Obj& g, size_t i) {
      auto p = read_pattern(g, ram, base_dir, true);
      if (i == 0)
        s.guest = std::move(p);
      else
        s.guest_concurrent.push_back(std::move(p));
    });
  }
  if (top.has("link")) {
    Obj l(file, top.get("link"), "/link");
    s.link.bandwidth = l.rate("bandwidth", s.link.bandwidth);
    if (!(s.link.bandwidth > 0)) l.fail("bandwidth", "must be > 0");
    s.link.latency_s = l.duration("latency", s.link.latency_s);
    s.link.efficiency = l.number("efficiency", s.link.efficiency, 0, 1);
    if (!(s.link.efficiency > 0)) l.fail("efficiency", "must be > 0 (1.0: an ideal link)");
    if (l.has("rate_limit")) {
      s.link.rate_limit = l.rate("rate_limit", 0);
      if (!(*s.link.rate_limit > 0)) l.fail("rate_limit", "must be > 0");
    }
    s.link.stream_cap = rate_or_unlimited(l, "stream_cap", s.link.stream_cap);
    if (!(s.link.stream_cap > 0)) l.fail("stream_cap", "must be > 0 (or \"unlimited\")");
    l.finish();
  }
  if (top.has("migration")) {
    s.migrates = true;
    Obj m(file, top.get("migration"), "/migration");
    auto& mg = s.migration;
    mg.start_at_s = m.duration("start_at", mg.start_at_s);
    const std::string mode = m.str("mode", "precopy");
    if (mode == "precopy")
      mg.mode = MigrationMode::kPrecopy;
    else if (mode == "postcopy" || mode == "hybrid") {
      mg.mode = mode == "postcopy" ? MigrationMode::kPostcopy : MigrationMode::kHybrid;
      const auto& def = s.device.protocol_def;
      if (!def || !def->postcopy)
        m.fail("mode", mode +
                           " needs a device protocol that defines post-copy (device.protocol: "
                           "v2-postcopy, v2-postcopy-poll or v2-postcopy-ram-only), not '" +
                           s.device.protocol + "'");
      if (def->postcopy->device_pages &&
          std::find(s.device.features.begin(), s.device.features.end(), "post_copy") ==
              s.device.features.end())
        m.fail("mode", mode + " with protocol " + s.device.protocol +
                           " needs the device feature post_copy in device.features");
    } else {
      m.fail("mode", "must be precopy, postcopy or hybrid");
    }
    mg.downtime_limit_s = m.duration("downtime_limit", mg.downtime_limit_s);
    if (!(mg.downtime_limit_s > 0)) m.fail("downtime_limit", "must be > 0");
    mg.auto_converge = m.boolean("auto_converge", mg.auto_converge);
    mg.max_iterations =
        static_cast<uint32_t>(m.integer("max_iterations", mg.max_iterations, 0, 100000));
    mg.timeout_s = m.duration("timeout", mg.timeout_s);
    const std::string onc = m.str("on_no_convergence", "cancel");
    if (onc == "cancel")
      mg.on_no_convergence = OnNoConvergence::kCancel;
    else if (onc == "force")
      mg.on_no_convergence = OnNoConvergence::kForce;
    else
      m.fail("on_no_convergence", "must be cancel or force");
    mg.link_timeout_s = m.duration("link_timeout", mg.link_timeout_s);
    mg.postcopy_after_iterations = static_cast<uint32_t>(
        m.integer("postcopy_after_iterations", mg.postcopy_after_iterations, 0, 100000));
    mg.postcopy_after_s = m.duration("postcopy_after", mg.postcopy_after_s);
    mg.prefetch_pages =
        static_cast<uint32_t>(m.integer("prefetch_pages", mg.prefetch_pages, 0, 4096));
    mg.background_push = m.boolean("background_push", mg.background_push);
    mg.postcopy_preempt = m.boolean("postcopy_preempt", mg.postcopy_preempt);
    if (mg.postcopy_preempt && mg.mode == MigrationMode::kPrecopy)
      m.fail("postcopy_preempt",
             "needs mode postcopy or hybrid (QEMU: \"Postcopy preempt requires postcopy-ram\")");
    const std::string order = m.str("push_order", mg.hot_first ? "hot_first" : "sequential");
    if (order != "hot_first" && order != "sequential")
      m.fail("push_order", "must be hot_first or sequential");
    mg.hot_first = order == "hot_first";
    mg.run_after_s = m.duration("run_after", mg.run_after_s);
    mg.exact = m.boolean("exact", mg.exact);
    mg.multifd_channels =
        static_cast<uint32_t>(m.integer("multifd_channels", mg.multifd_channels, 0, 255));
    if (mg.multifd_channels > 0 && mg.mode != MigrationMode::kPrecopy)
      m.fail("multifd_channels",
             "multifd is pre-copy only: QEMU 10.0 refuses the multifd capability with post-copy "
             "(mode: precopy, or multifd_channels: 0)");
    {  // QEMU's migration thread (docs/migration.md "The qemu loop")
      const std::string loop = m.str("loop", "passes");
      if (loop != "passes" && loop != "qemu") m.fail("loop", "must be passes or qemu");
      mg.loop = loop == "qemu" ? MigrationLoop::kQemu : MigrationLoop::kPasses;
      std::string policy = "9.2";  // a string; --set's 8.1 arrives as a number
      if (m.has("qemu_policy")) {
        const auto& v = m.get("qemu_policy");
        policy = v.is_string() ? v.get<std::string>() : v.dump();
      }
      if (policy != "9.2" && policy != "8.1")
        m.fail("qemu_policy", "must be \"9.2\" or \"8.1\", got " + m.get("qemu_policy").dump());
      mg.qemu_policy = policy == "8.1" ? QemuPolicy::k8_1 : QemuPolicy::k9_2;
      mg.switchover_ack = m.boolean("switchover_ack", false);
      mg.stall_timeout_s = m.duration("stall_timeout", mg.stall_timeout_s);
      const bool qemu = mg.loop == MigrationLoop::kQemu;
      if (!qemu && m.has("stall_timeout")) m.fail("stall_timeout", "needs migration.loop: qemu");
      if (!qemu && m.has("qemu_policy")) m.fail("qemu_policy", "needs migration.loop: qemu");
      if (!qemu && mg.switchover_ack) m.fail("switchover_ack", "needs migration.loop: qemu");
      // QEMU has no cap on dirty syncs, which come every loop pass once the
      // estimate is under the threshold: only an explicit max_iterations caps them.
      if (qemu && !m.has("max_iterations")) mg.max_iterations = 0;
      if (qemu && mg.mode != MigrationMode::kPrecopy)
        m.fail("loop", "qemu runs pre-copy migrations only (mode: precopy)");
    }
    m.finish();
  }
  if (top.has("faults")) {
    const auto& arr = top.get("faults");
    if (!arr.is_array()) top.fail("faults", "must be a list");
    for (size_t i = 0; i < arr.size(); ++i) {
      Obj f(file, arr[i], "/faults/" + std::to_string(i));
      Fault fault;
      if (!f.has("at")) f.fail("at", "every fault needs a time");
      fault.at_s = f.duration("at", 0);
      const std::string kind = f.str("kind", "");
      const FaultKind kinds[] = {FaultKind::kLinkDown,    FaultKind::kDegrade,
                                 FaultKind::kDeviceError, FaultKind::kDestCrash,
                                 FaultKind::kSourceCrash, FaultKind::kCorrupt};
      bool known = false;
      for (FaultKind k : kinds)
        if (kind == fault_kind_name(k)) fault.kind = k, known = true;
      if (!known)
        f.fail("kind",
               "must be link_down, degrade, device_error, dest_crash, source_crash or corrupt");
      const bool timed = fault.kind == FaultKind::kLinkDown || fault.kind == FaultKind::kDegrade;
      if (timed) {
        fault.duration_s = f.duration("duration", 0);
        fault.bandwidth = f.rate("bandwidth", 0);
      } else if (f.has("duration") || f.has("bandwidth")) {
        f.fail(f.has("duration") ? "duration" : "bandwidth",
               kind + " happens at one instant: no duration or bandwidth");
      }
      if (fault.kind == FaultKind::kDegrade && !(fault.bandwidth > 0))
        f.fail("bandwidth", "degrade needs a bandwidth > 0");
      if (fault.kind == FaultKind::kCorrupt) {
        const std::string target = f.str("target", "ram");
        if (target != "ram" && target != "device") f.fail("target", "must be ram or device");
        fault.target = target == "ram" ? CorruptTarget::kRam : CorruptTarget::kDevice;
      } else if (f.has("target")) {
        f.fail("target", "only a corrupt fault has a target");
      }
      f.finish();
      s.faults.push_back(fault);
    }
  }
  if (top.has("expect")) {
    // The bundled scenarios' own test expectation: checked by the test suite.
    Obj e(file, top.get("expect"), "/expect");
    const std::string outcome = e.str("outcome", "completed");
    if (outcome != "completed" && outcome != "cancelled" && outcome != "failed" &&
        outcome != "vm_lost")
      e.fail("outcome", "must be completed, cancelled, failed or vm_lost");
    e.str("reason", "");
    e.finish();
    s.expect = top.get("expect").dump();
  }
  top.finish();
  s.device.config.content_seed = s.seed;
  return s;
}

// "device.vram=8GiB" → sets /device/vram in the document.
void apply_override(json& root, const std::string& ov) {
  const auto eq = ov.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + ov, "", "expected PATH=VALUE, e.g. --set device.vram=8GiB");
  // Everything else in a scenario passed the JSON parser's UTF-8 check; a
  // --set value is taken raw (found by fuzz_scenario: bytes that are not
  // UTF-8 made a later message's json::dump throw and end the process).
  try {
    (void)json(ov).dump();
  } catch (const json::type_error&) {
    throw InputError("--set", "", "the override is not valid UTF-8 text");
  }
  const std::string path = ov.substr(0, eq), value = ov.substr(eq + 1);
  json parsed;
  try {
    parsed = json::parse(value);
  } catch (const json::exception&) {
    parsed = value;  // plain strings such as 8GiB need no quotes
  }
  json* node = &root;
  std::stringstream ss(path);
  std::string part, pointer;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  if (parts.empty() || path.back() == '.')
    throw InputError("--set " + ov, "", "PATH has an empty part");
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const bool index =
        !parts[i].empty() && parts[i].find_first_not_of("0123456789") == std::string::npos;
    if (parts[i].empty()) throw InputError("--set " + ov, "", "PATH has an empty part");
    if (node->is_array()) {
      if (!index) {
        // A section written as a list (workload, guest): name the item.
        std::string item_path;
        for (size_t j = 0; j < parts.size(); ++j)
          item_path += (j ? "." : "") + (j == i ? std::string("0.") : std::string()) + parts[j];
        throw InputError("--set " + ov, pointer,
                         "'" + parts[i] + "' is not a list index: this is a list of " +
                             std::to_string(node->size()) + " items; set one item's key, e.g. " +
                             item_path);
      }
      const size_t idx = std::stoul(parts[i]);
      if (idx >= node->size())
        throw InputError("--set " + ov, pointer,
                         "index " + parts[i] + " is beyond the list (" +
                             std::to_string(node->size()) + " items)");
      node = &(*node)[idx];
    } else {
      if (node->is_null()) {
        // --set may create a section, but not a list item: there is no list.
        if (index)
          throw InputError("--set " + ov, pointer,
                           "the scenario has no list here, so there is no item " + parts[i] +
                               " to set (write the list in the scenario file)");
        *node = json::object();
      }
      if (!node->is_object())
        throw InputError("--set " + ov, pointer,
                         "'" + parts[i] + "' is inside a value that is not an object");
      node = &(*node)[parts[i]];
    }
    pointer += "/" + parts[i];
    if (last) *node = parsed;
  }
}

// Refuses a key that appears twice in one object (nlohmann keeps the last
// silently), naming its JSON pointer.
struct DuplicateKey {
  std::string pointer;
};

json parse_strict(const std::string& text) {
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;   // object: the key being read
    size_t index = 0;  // array: the element being read
  };
  std::vector<Frame> stack;
  auto pointer = [&](size_t depth) {
    std::string p;
    for (size_t i = 0; i < depth; ++i)
      p += "/" + (stack[i].object ? stack[i].key : std::to_string(stack[i].index));
    return p;
  };
  auto element_done = [&] {
    if (!stack.empty() && !stack.back().object) ++stack.back().index;
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        stack.push_back({true, {}, {}});
        break;
      case json::parse_event_t::array_start:
        stack.push_back({false, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        element_done();
        break;
      case json::parse_event_t::key: {
        auto& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) throw DuplicateKey{pointer(stack.size())};
        break;
      }
      case json::parse_event_t::value:
        element_done();
        break;
    }
    return true;
  };
  return json::parse(text, cb, true, /*ignore_comments=*/true);
}

}  // namespace

Scenario load_scenario_text(const std::string& text, const std::string& path,
                            const std::vector<std::string>& overrides) {
  json root;
  try {
    root = parse_strict(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // nlohmann reports "parse error at line L, column C: ..."
    const auto at = what.find("at line");
    throw InputError(path, "",
                     "malformed JSON " + (at == std::string::npos ? what : what.substr(at)));
  } catch (const json::out_of_range& e) {
    // A number too large for a double (1e999): found by fuzz_scenario, it
    // escaped as out_of_range and ended the process.
    std::string what = e.what();
    const auto at = what.find("number overflow");
    throw InputError(path, "",
                     "malformed JSON: " + (at == std::string::npos ? what : what.substr(at)));
  } catch (const DuplicateKey& d) {
    throw InputError(path, d.pointer, "the key appears twice in its object");
  }
  const json as_written = overrides.empty() ? json() : root;
  std::vector<std::string> set_paths;
  for (const auto& ov : overrides) {
    try {
      apply_override(root, ov);
    } catch (const InputError& e) {
      throw InputError(path + " (" + e.file() + ")", e.json_path(), e.reason());
    }
    std::string p = "/" + ov.substr(0, ov.find('='));
    std::replace(p.begin(), p.end(), '.', '/');
    set_paths.push_back(p);
  }
  try {
    return build(path, root);
  } catch (const InputError& e) {
    // Name the override when it is what introduced the problem: the error is
    // at, inside, or around (a section it created) the value it set.
    const auto within = [](const std::string& inner, const std::string& outer) {
      return inner == outer || inner.rfind(outer + "/", 0) == 0;
    };
    for (size_t i = 0; i < set_paths.size(); ++i)
      if (within(e.json_path(), set_paths[i]) || within(set_paths[i], e.json_path()))
        throw InputError(path + " (--set " + overrides[i] + ")", e.json_path(), e.reason());
    // The override broke a key it did not set (--set device.protocol=v1 makes
    // the file's v2 features wrong): say so, or the user hunts a bug in a
    // file that is fine as written.
    if (!overrides.empty()) {
      bool file_is_valid = true;
      try {
        (void)build(path, as_written);
      } catch (const InputError&) {
        file_is_valid = false;
      }
      if (file_is_valid) {
        std::string sets;
        for (const auto& ov : overrides) sets += (sets.empty() ? "--set " : ", --set ") + ov;
        throw InputError(path, e.json_path(),
                         e.reason() + " (after " + sets + ": the scenario file itself is valid)");
      }
    }
    throw;
  }
}

Scenario load_scenario(const std::string& path, const std::vector<std::string>& overrides) {
  if (std::filesystem::is_directory(path))
    throw InputError(path, "", "is a directory, not a scenario file");
  std::ifstream in(path);
  if (!in)
    throw InputError(path, "",
                     std::string("cannot open the scenario file: ") + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return load_scenario_text(buf.str(), path, overrides);
}

}  // namespace mdevsim::sim
