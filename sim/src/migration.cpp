// A complete live migration: two simulated hosts (and, for post-copy, a
// never-migrated reference), the VMM (sim/vmm: it speaks only the VFIO ABI
// to the devices) given its own VM through ports over the hosts, and the
// verification oracle (sim/verify) watching it.
#include "mdevsim/sim/migration.h"

#include <memory>

#include <systemc>

#include "mdevsim/sim/host.h"
#include "mdevsim/sim/run_outputs.h"
#include "verify/oracle.h"
#include "vmm/migration_driver.h"

namespace mdevsim::sim {

namespace {

// Guest RAM as the VMM owns it: dirty log, and userfaultfd on a post-copy
// destination.
class GuestRamAdapter : public vmm::GuestRamPort {
 public:
  explicit GuestRamAdapter(GuestRam& r) : r_(r) {}
  uint64_t page_count() const override { return r_.store.page_count(); }
  uint64_t token(uint64_t page) const override { return r_.store.token(page); }
  uint64_t touched_pages() const override { return r_.store.touched_pages(); }
  void mark_touched_dirty() override { r_.store.mark_touched_dirty(); }
  void start_dirty_log() override { r_.store.start_tracking(); }
  void mark_dirty(uint64_t page) override { r_.store.dirty().set(page); }
  uint64_t dirty_count() const override { return r_.store.dirty().count(); }
  void collect_dirty(vmm::PageBits& pass) override {
    pass.count = r_.store.dirty().count();
    r_.store.dirty().take_words(pass.words);
  }
  void set_token(uint64_t page, uint64_t token) override { r_.store.set_token(page, token); }
  void tokens(uint64_t word, uint64_t mask, uint64_t* out) const override {
    r_.store.word_tokens(word, mask, out);
  }
  void set_tokens(std::span<const std::pair<uint64_t, uint64_t>> pages) override {
    r_.store.set_tokens(pages);
  }
  bool shares_resident_content(const vmm::GuestRamPort& destination) const override {
    const auto* d = dynamic_cast<const GuestRamAdapter*>(&destination);
    return d && r_.store.same_resident_content(d->r_.store);
  }
  uint64_t resident_bits(uint64_t word, uint64_t mask) const override {
    return r_.store.resident_bits(word, mask);
  }
  void set_resident_bits(uint64_t word, uint64_t mask) override {
    r_.store.set_resident_bits(word, mask);
  }
  void set_missing(const std::vector<uint64_t>& pages) override {
    r_.missing.reset(r_.store.page_count(), pages);
  }
  bool missing(uint64_t page) const override { return r_.missing.test(page); }
  uint64_t missing_count() const override { return r_.missing.count(); }
  std::vector<uint64_t> take_faults() override { return r_.missing.take_faults(); }
  const sc_core::sc_event& fault_event() const override { return r_.missing.fault_raised(); }
  bool place(uint64_t page, uint64_t token) override { return r_.place(page, token); }

 private:
  GuestRam& r_;
};

class VmAdapter : public vmm::VmPort {
 public:
  explicit VmAdapter(Host& h) : h_(h) {}
  void set_running(bool running) override { h_.set_vm_running(running); }
  void set_throttle(double fraction) override { h_.vcpus.set_throttle(fraction); }
  void load_cpu_state_from(const vmm::VmPort& source) override {
    h_.load_guest_state_from(static_cast<const VmAdapter&>(source).h_);
  }

 private:
  Host& h_;
};

// The oracle at the driver's fixed points; also starts the post-copy
// reference run (a copy of the source at its stop, beside the destination).
class OracleObserver : public vmm::MigrationObserver {
 public:
  OracleObserver(verify::Oracle& o, Host& src, Host* ref, RunRecorder* rec)
      : o_(o), src_(src), ref_(ref), rec_(rec) {}
  void postcopy_switched() override {
    o_.verify_switch();
    o_.clone_reference();
    o_.note_work_at_switch();
    if (!ref_) return;
    ref_->load_guest_state_from(src_);
    ref_->vcpus.set_throttle(0);
    ref_->set_vm_running(true);
  }
  void postcopy_sample() override { o_.sample_slowdown(); }
  void postcopy_finished(const vmm::PostcopyFigures& f) override { o_.finish_postcopy(f, rec_); }
  void precopy_switched() override { o_.verify(); }
  uint64_t source_state_hash() const override { return o_.source_state_hash(); }
  bool source_running() const override { return o_.source_running(); }

 private:
  verify::Oracle& o_;
  Host& src_;
  Host* ref_;
  RunRecorder* rec_;
};

std::unique_ptr<verify::HostInspector> inspector(const RunOptions& o, Host& h, const char* role) {
  if (o.inspector) return o.inspector(h, role);
  return std::make_unique<verify::HostInspector>(h);
}

}  // namespace

Result run_migration(const Scenario& s, const RunOptions& options) {
  Scenario dst_scenario = s;
  // A destination that rejects the stream: a device of another configuration.
  if (s.device.reject_stream)
    dst_scenario.device.config.contexts =
        s.device.config.contexts == 256 ? 255 : s.device.config.contexts + 1;
  Host src("src", s, true);
  Host dst("dst", dst_scenario, false);
  dst.set_vm_running(false);  // the destination VM waits for the incoming migration
  RunOptions o = options;
  o.exact = o.exact || s.migration.exact;
  // Post-copy: a third VM, cloned from the source at its stop, runs beside
  // the destination without faults (the "never migrated" reference).
  std::unique_ptr<Host> ref;
  if (s.migration.mode != MigrationMode::kPrecopy) {
    ref = std::make_unique<Host>("ref", s, false);
    ref->set_vm_running(false);
  }
  if (o.recorder) o.recorder->attach(src, dst);
  Result result;
  const auto src_view = inspector(o, src, "src"), dst_view = inspector(o, dst, "dst");
  const auto ref_view = ref ? inspector(o, *ref, "ref") : nullptr;
  verify::Oracle oracle(s, *src_view, *dst_view, ref_view.get(), result);
  OracleObserver observer(oracle, src, ref.get(), o.recorder);
  GuestRamAdapter src_ram(src.ram), dst_ram(dst.ram);
  VmAdapter src_vm(src), dst_vm(dst);
  vmm::MigrationDriver driver("migration", s, o.recorder, o.exact, {&src.frontend, src_ram, src_vm},
                              {&dst.frontend, dst_ram, dst_vm}, observer, result);
  o.recorder ? o.recorder->simulate() : sc_core::sc_start();
  Result r = result;
  r.scenario = s.name;
  r.seed = s.seed;
  return r;
}

}  // namespace mdevsim::sim
