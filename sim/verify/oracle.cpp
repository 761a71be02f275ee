#include "verify/oracle.h"

#include <algorithm>
#include <set>

#include <systemc>

#include "mdevsim/sim/run_outputs.h"

namespace mdevsim::sim::verify {

namespace {

PageDiff vram_pages(const models::DeviceDiff& d) { return {d.vram_pages, d.first_vram_page, {}}; }

void wait_s(double s) {
  if (s > 0)
    sc_core::wait(std::max(sc_core::sc_time::from_seconds(s), sc_core::sc_get_time_resolution()));
}

}  // namespace

// Names the earliest check that failed and its first difference: a device
// field (state order), else the lowest VRAM page, else the lowest RAM page.
void Oracle::note_check(const char* check, const models::DeviceDiff& device, const PageDiff& vram,
                        const PageDiff& ram) {
  auto& v = result_.verification;
  const uint64_t count = device.fields + vram.count + ram.count;
  if (count == 0 || !v.failed_check.empty()) return;
  VerificationDifference f;
  if (const auto& x = device.first_field) {
    f = {x->kind, x->field, std::nullopt, x->a, x->b};
  } else if (vram.lowest) {
    const uint64_t p = *vram.lowest;
    f = {"vram_page", "", p, std::nullopt, std::nullopt};
  } else {
    const uint64_t p = *ram.lowest;
    f = {"ram_page", "", p, std::nullopt, std::nullopt};
  }
  v.failed_check = check;
  v.first_difference = f;
  v.differences_in_check = count;
}

void Oracle::note_failure(const char* check, VerificationDifference f) {
  auto& v = result_.verification;
  if (!v.failed_check.empty()) return;
  v.failed_check = check;
  v.first_difference = std::move(f);
  v.differences_in_check = 1;
}

void Oracle::verify_switch() {
  auto& v = result_.verification;
  v.checked = true;
  const auto diff = src_.device().compare(dst_.device());
  v.device_fields_mismatched = diff.fields;
  for (const auto& d : diff.differences)
    if (d.rfind("vram", 0) != 0) v.differences.push_back("at the switch: " + d);
  const auto vram = differing_pages(src_.device().memory(), dst_.device().memory(),
                                    [&](uint64_t p) { return dst_.device().missing(p); });
  const auto ram =
      differing_pages(src_.ram(), dst_.ram(), [&](uint64_t p) { return dst_.ram_missing(p); });
  v.vram_pages_mismatched += vram.count;
  v.ram_pages_mismatched += ram.count;
  for (uint64_t p : vram.listed)
    v.differences.push_back("at the switch: vram page " + std::to_string(p));
  for (uint64_t p : ram.listed)
    v.differences.push_back("at the switch: guest RAM page " + std::to_string(p));
  note_check("switch", diff, vram, ram);
}

void Oracle::clone_reference() {
  if (ref_) ref_->clone_from(src_);
}

void Oracle::sample_slowdown() {
  if (!ref_) return;
  const auto d = dst_.work(), r = ref_->work();
  const double ref_dev = static_cast<double>(r.first - work_at_switch_.first);
  if (ref_dev >= 100)
    peak_slowdown_ = std::max(peak_slowdown_,
                              1.0 - static_cast<double>(d.first - work_at_switch_.first) / ref_dev);
}

void Oracle::finish_postcopy(const PostcopyFigures& f, RunRecorder* recorder) {
  auto& v = result_.verification;
  if (f.destination_refused) v.differences.push_back("the destination refused to leave post-copy");
  // Every page placed during post-copy must carry the source's content at
  // its stop (the source has not run since).
  std::set<uint64_t> distinct;
  PageDiff placed_bad;
  for (const auto& [p, t] : dst_.device().placed()) {
    distinct.insert(p);
    if (src_.device().memory().token(p) != t) {
      if (v.vram_pages_mismatched++ < 8)
        v.differences.push_back("post-copy: vram page " + std::to_string(p));
      if (!placed_bad.lowest || p < *placed_bad.lowest) placed_bad.lowest = p;
      ++placed_bad.count;
    }
  }
  const uint64_t fetched_vram = dst_.device().placed().size();
  const uint64_t records = f.device_record_bytes ? f.device_bytes / f.device_record_bytes : 0;
  const uint64_t duplicates = records > distinct.size() ? records - distinct.size() : 0;
  // Work done on the destination vs the never-migrated reference.
  sample_slowdown();
  const auto d = dst_.work();
  const auto r = ref_ ? ref_->work() : d;
  const auto s0 = work_at_switch_;
  std::vector<double> stalls = dst_.device().stalls();
  stalls.insert(stalls.end(), dst_.ram_stalls().begin(), dst_.ram_stalls().end());
  std::sort(stalls.begin(), stalls.end());
  double total = 0;
  for (double x : stalls) total += x;
  auto pct = [&](double q) {
    if (stalls.empty()) return 0.0;
    return stalls[std::min(stalls.size() - 1,
                           static_cast<size_t>(q * static_cast<double>(stalls.size())))];
  };
  const double ref_dev = static_cast<double>(r.first - s0.first),
               dst_dev = static_cast<double>(d.first - s0.first);
  const double ref_cpu = static_cast<double>(r.second - s0.second),
               dst_cpu = static_cast<double>(d.second - s0.second);
  nlohmann::json pc;
  pc["protocol"] = s_.device.protocol;
  pc["device_pages_postcopied"] = f.device_pages;
  pc["fault_delivery"] = f.device_pages ? f.fault_delivery : "userfaultfd";
  pc["faults"] = dst_.device().faults() + dst_.ram_faults();
  pc["device_faults"] = dst_.device().faults();
  pc["ram_faults"] = dst_.ram_faults();
  pc["missing_vram_pages_at_switch"] = f.missing_vram_at_switch;
  pc["missing_ram_pages_at_switch"] = f.missing_ram_at_switch;
  pc["vram_pages_fetched"] = fetched_vram;
  pc["ram_pages_fetched"] = f.ram_pages_fetched;
  pc["pages_sent_twice"] = duplicates;
  pc["bytes"] = f.bytes;
  pc["duration_s"] = f.t_end - f.t_stop - result_.downtime_s;
  pc["risk_window_s"] = f.t_end - f.t_stop;
  pc["stall_total_s"] = total;
  pc["stall_p50_s"] = pct(0.5);
  pc["stall_p99_s"] = pct(0.99);
  pc["stall_max_s"] = stalls.empty() ? 0.0 : stalls.back();
  pc["device_work_pages"] = d.first - s0.first;
  pc["reference_device_work_pages"] = r.first - s0.first;
  pc["vcpu_writes"] = d.second - s0.second;
  pc["reference_vcpu_writes"] = r.second - s0.second;
  pc["device_slowdown"] = ref_dev > 0 ? 1.0 - dst_dev / ref_dev : 0.0;
  pc["device_slowdown_peak"] = peak_slowdown_;
  pc["vcpu_slowdown"] = ref_cpu > 0 ? 1.0 - dst_cpu / ref_cpu : 0.0;
  result_.postcopy = pc;
  if (recorder) {
    recorder->phase("dst migration", "post-copy", f.t_stop + result_.downtime_s, f.t_end);
    auto& log = recorder->log;
    for (const auto& x : dst_.device().fault_log())
      log.faults.push_back({x.t_s, x.stall_s, "vram", x.page});
    for (const auto& x : dst_.ram_fault_log())
      log.faults.push_back({x.t_s, x.stall_s, "ram", x.page});
    std::sort(log.faults.begin(), log.faults.end(),
              [](const PageFaultEvent& a, const PageFaultEvent& b) { return a.t_s < b.t_s; });
    recorder->counter("missing pages", f.t_end, 0);
  }
  v.continuation_matches = true;  // timing differs by design (faults); see docs/postcopy.md
  v.passed = v.vram_pages_mismatched == 0 && v.ram_pages_mismatched == 0 &&
             v.device_fields_mismatched == 0 && dst_.device().missing_count() == 0 &&
             dst_.ram_missing_count() == 0 && !f.destination_refused;
  if (placed_bad.count > 0) {
    const uint64_t p = *placed_bad.lowest;
    note_failure("postcopy", {"vram_page", "", p, std::nullopt, std::nullopt});
    v.differences_in_check = placed_bad.count;
  }
  if (dst_.device().missing_count() > 0)
    note_failure("postcopy",
                 {"missing_pages", "VRAM", std::nullopt, 0, dst_.device().missing_count()});
  if (dst_.ram_missing_count() > 0)
    note_failure("postcopy",
                 {"missing_pages", "guest RAM", std::nullopt, 0, dst_.ram_missing_count()});
  if (f.destination_refused)
    note_failure("postcopy",
                 {"destination_state", "the destination refused to leave post-copy", {}, {}, {}});
  for (HostInspector* h : {&dst_, ref_})
    if (h) h->set_vm_running(false);
}

void Oracle::verify() {
  auto& v = result_.verification;
  v.checked = true;
  // 1. At the start of the destination: equal to the source at its stop.
  const auto diff = src_.device().compare(dst_.device());
  v.vram_pages_mismatched = diff.vram_pages;
  v.device_fields_mismatched = diff.fields;
  for (const auto& d : diff.differences) v.differences.push_back(d);
  const auto ram = differing_pages(src_.ram(), dst_.ram(), [](uint64_t) { return false; });
  for (uint64_t p : ram.listed) v.differences.push_back("guest RAM page " + std::to_string(p));
  v.ram_pages_mismatched = ram.count;
  note_check("switch", diff, vram_pages(diff), ram);
  // 2. The migrated run continues like a run that never migrated: the
  // source, resumed from the same point (the reference run), against the
  // destination over the same simulated time. (The destination already runs.)
  dst_.resume_for_continuation();
  src_.resume_for_continuation();
  wait_s(s_.migration.run_after_s);
  src_.set_vm_running(false);
  dst_.set_vm_running(false);
  HostInspector::stop_together(src_, dst_);
  const auto later = src_.device().compare(dst_.device(), 4);
  // (Word by word: cheaper than hashing both memories first.)
  const auto later_ram = differing_pages(src_.ram(), dst_.ram(), [](uint64_t) { return false; });
  v.continuation_matches = later.equal() && later_ram.count == 0;
  const std::string after = "after " + std::to_string(s_.migration.run_after_s) + " s: ";
  for (const auto& d : later.differences) v.differences.push_back(after + d);
  if (later_ram.count > 0)
    v.differences.push_back(after + std::to_string(later_ram.count) +
                            " guest RAM pages differ (lowest: page " +
                            std::to_string(*later_ram.lowest) + ")");
  note_check("continuation", later, vram_pages(later), later_ram);
  v.passed = v.failed_check.empty();
  if (!v.continuation_matches)
    v.differences.push_back("the migrated run diverged from the reference run");
}

}  // namespace mdevsim::sim::verify
