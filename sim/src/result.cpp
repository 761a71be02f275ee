#include "mdevsim/sim/result.h"

#include <cmath>

namespace mdevsim::sim {

namespace {
// Doubles rounded to 1 ns / 1 byte-ish precision so results print the same
// on every machine and compiler.
double r9(double v) { return std::round(v * 1e9) / 1e9; }
}  // namespace

nlohmann::ordered_json to_json(const Result& r) {
  nlohmann::ordered_json j;
  j["schema"] = "mdevsim.result/1";
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["outcome"] = r.outcome;
  j["reason"] =
      r.reason.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.reason);
  j["converged"] = r.converged;
  j["switchover"] = r.switchover;
  j["total_time_s"] = r9(r.total_time_s);
  j["downtime_s"] = r9(r.downtime_s);
  j["bytes"] = {
      {"ram", r.ram_bytes}, {"device", r.device_bytes}, {"total", r.ram_bytes + r.device_bytes}};
  auto iters = nlohmann::ordered_json::array();
  for (const auto& it : r.iterations) {
    iters.push_back({{"index", it.index},
                     {"start_s", r9(it.start_s)},
                     {"duration_s", r9(it.duration_s)},
                     {"ram_bytes", it.ram_bytes},
                     {"device_bytes", it.device_bytes},
                     {"ram_dirty_pages", it.ram_dirty_pages},
                     {"device_dirty_bytes", it.device_dirty_bytes},
                     {"bandwidth", r9(it.bandwidth)},
                     {"remaining_bytes", it.remaining_bytes},
                     {"expected_downtime_s", r9(it.expected_downtime_s)},
                     {"throttle", r9(it.throttle)}});
  }
  j["iterations"] = iters;
  if (r.stop_copy) {
    const auto& s = *r.stop_copy;
    j["stop_copy"] = {{"ram_bytes", s.ram_bytes},
                      {"device_bytes", s.device_bytes},
                      {"device_stop_s", r9(s.device_stop_s)},
                      {"transfer_s", r9(s.transfer_s)},
                      {"resume_s", r9(s.resume_s)}};
  } else {
    j["stop_copy"] = nullptr;
  }
  j["postcopy"] = r.postcopy ? nlohmann::ordered_json::parse(r.postcopy->dump())
                             : nlohmann::ordered_json(nullptr);
  const auto& v = r.verification;
  j["verification"] = {{"checked", v.checked},
                       {"passed", v.passed},
                       {"vram_pages_mismatched", v.vram_pages_mismatched},
                       {"ram_pages_mismatched", v.ram_pages_mismatched},
                       {"device_fields_mismatched", v.device_fields_mismatched},
                       {"continuation_matches", v.continuation_matches},
                       {"source_intact", v.source_intact},
                       {"source_reset", v.source_reset},
                       {"differences", v.differences}};
  auto optional = [](const auto& x) {
    return x ? nlohmann::ordered_json(*x) : nlohmann::ordered_json(nullptr);
  };
  j["verification"]["failed_check"] = v.failed_check.empty()
                                          ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(v.failed_check);
  if (const auto& f = v.first_difference)
    j["verification"]["first_difference"] = {
        {"kind", f->kind},
        {"field",
         f->field.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(f->field)},
        {"page", optional(f->page)},
        {"expected", optional(f->expected)},
        {"actual", optional(f->actual)}};
  else
    j["verification"]["first_difference"] = nullptr;
  j["verification"]["differences_in_check"] = v.differences_in_check;
  auto faults = nlohmann::ordered_json::array();
  for (const auto& f : r.faults) {
    nlohmann::ordered_json o = {{"kind", f.kind}, {"at_s", r9(f.at_s)}};
    if (f.kind == "link_down" || f.kind == "degrade") o["duration_s"] = r9(f.duration_s);
    if (!f.target.empty()) o["target"] = f.target;
    o["applied"] = f.applied;
    if (f.kind == "link_down") o["lost_s"] = r9(f.lost_s);
    o["effect"] = f.effect;
    faults.push_back(o);
  }
  j["faults"] = faults;
  nlohmann::ordered_json calls = nlohmann::ordered_json::object(),
                         errs = nlohmann::ordered_json::object();
  for (const auto& [k, n] : r.abi_calls) calls[k] = n;
  for (const auto& [k, n] : r.abi_errors) errs[k] = n;
  j["abi"] = {{"calls", calls}, {"errors", errs}};
  if (r.device_run) {
    const auto& d = *r.device_run;
    auto over = nlohmann::ordered_json::array();
    for (const auto& [t, n] : d.unique_pages_over_time)
      over.push_back({{"t_s", r9(t)}, {"unique_pages", n}});
    j["device_run"] = {{"page_writes", d.page_writes},
                       {"unique_pages", d.unique_pages},
                       {"achieved_rate", r9(d.achieved_rate)},
                       {"unique_pages_over_time", over}};
  }
  return j;
}

std::string describe_verification_failure(const VerificationResult& v) {
  if (v.failed_check.empty()) return "";
  const std::string where = v.failed_check == "switch"         ? "at the switch"
                            : v.failed_check == "continuation" ? "after the continuation"
                                                               : "after post-copy";
  if (!v.first_difference) return where;
  const auto& f = *v.first_difference;
  std::string what;
  auto values = [&] {
    return f.expected && f.actual
               ? " " + std::to_string(*f.expected) + " vs " + std::to_string(*f.actual)
               : std::string();
  };
  if (f.kind == "vram_page") {
    what = "VRAM page " + std::to_string(f.page.value_or(0));
  } else if (f.kind == "ram_page") {
    what = "guest RAM page " + std::to_string(f.page.value_or(0));
  } else if (f.kind == "missing_pages") {
    what = std::to_string(f.actual.value_or(0)) + " " + f.field + " pages never arrived";
  } else if (f.kind == "configuration") {
    what = "the device configuration";
  } else if (f.kind == "destination_state") {
    what = f.field;
  } else {
    const std::string label = f.kind == "ring_entry"          ? "ring entry "
                              : f.kind == "command_processor" ? "command processor "
                                                              : f.kind + " ";
    what = label + f.field + values();
  }
  const uint64_t more = v.differences_in_check > 1 ? v.differences_in_check - 1 : 0;
  return where + ": " + what + (more ? " (and " + std::to_string(more) + " more)" : "");
}

int exit_code_for(const Result& r) {
  if (r.outcome != "completed") return 1;
  if (r.verification.checked && !r.verification.passed) return 1;
  return 0;
}

}  // namespace mdevsim::sim
