#include "sim_host.h"

#include <linux/vfio.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mdevsim/models/common/rng.h"
#include "mdevsim/sim/host.h"
#include "mdevsim/sim/outputs.h"

namespace mdevsim::vfio_host {

namespace {

// Device DMA goes to a buffer at 16 MiB of guest RAM: above SeaBIOS's low
// memory (IVT, BDA, option ROMs, the PAM-shadowed F segment), far from its
// tables at the top of RAM, so a VM with no guest OS keeps idling.
constexpr uint64_t kDmaBufferGpa = uint64_t{16} << 20;

// A small device when no scenario is given: 64 MiB of VRAM written at
// 32 MiB/s, 1 MiB/s of DMA into a 1 MiB guest buffer.
constexpr const char* kDefaultScenario = R"({
  "name": "vfio-host-default",
  "seed": 1,
  "device": { "vram": "64MiB", "page_size": "64KiB", "contexts": 4, "protocol": "v2",
              "features": ["stop_copy", "p2p", "pre_copy"], "dma_buffer": "1MiB" },
  "workload": { "kind": "uniform", "dirty_rate": "32MiB/s", "dma_rate": "1MiB/s" },
  "vm": { "ram": "256MiB", "page_size": "4KiB" }
})";

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string role_from_cmdline() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0'))
    if (arg == "-incoming" || arg == "--incoming") return "dst";
  return "src";
}

sim::Scenario load(const HostConfig& c) {
  std::vector<std::string> overrides;
  if (!c.protocol.empty()) overrides.push_back("device.protocol=" + c.protocol);
  if (!c.scenario.empty()) return sim::load_scenario(c.scenario, overrides);
  char path[] = "/tmp/mdevsim-vfio-host-XXXXXX.json";
  const int fd = mkstemps(path, 5);
  if (fd < 0) throw sim::InputError("(built-in device)", "", "cannot create a temporary file");
  const std::string text = kDefaultScenario;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  try {
    if (!ok) throw sim::InputError("(built-in device)", "", "cannot write a temporary file");
    auto s = sim::load_scenario(path, overrides);
    ::unlink(path);
    s.file.clear();
    return s;
  } catch (...) {
    ::unlink(path);
    throw;
  }
}

bool leaves_resuming(const vfio::CallRecord& r) {
  const bool before = r.state_before == "RESUMING" || r.state_before == "100b";
  return before && r.state_after != r.state_before;
}

bool is_state_change_call(const vfio::CallRecord& r) {
  return r.request.find("MIG_DEVICE_STATE") != std::string::npos ||
         (r.call == "pwrite" && r.request == "device_state");
}

}  // namespace

HostConfig HostConfig::from_environment() {
  HostConfig c;
  c.scenario = env("MDEVSIM_VFIO_SCENARIO");
  c.protocol = env("MDEVSIM_VFIO_PROTOCOL");
  if (!c.protocol.empty() && c.protocol != "v1" && c.protocol != "v2")
    throw sim::InputError("MDEVSIM_VFIO_PROTOCOL", "", "'" + c.protocol + "' is not v1 or v2");
  if (const auto name = env("MDEVSIM_VFIO_DEVICE"); !name.empty()) {
    if (name.find('/') != std::string::npos)
      throw sim::InputError("MDEVSIM_VFIO_DEVICE", "", "a device name has no '/'");
    c.device_name = name;
  }
  c.trace = env("MDEVSIM_VFIO_TRACE");
  c.report = env("MDEVSIM_VFIO_REPORT");
  if (const auto ratio = env("MDEVSIM_VFIO_TIME_RATIO"); !ratio.empty()) {
    char* end = nullptr;
    c.time_ratio = std::strtod(ratio.c_str(), &end);
    if (end == ratio.c_str() || *end != '\0' || !std::isfinite(c.time_ratio) || !(c.time_ratio > 0))
      throw sim::InputError("MDEVSIM_VFIO_TIME_RATIO", "",
                            "'" + ratio + "' is not a positive number (simulated s per wall s)");
  }
  c.role = role_from_cmdline();
  return c;
}

// ------------------------------------------------------------------ QemuRam

void QemuRam::map(uint64_t iova, uint64_t size, uint64_t vaddr, bool writable) {
  Mapping m{iova, size, reinterpret_cast<uint8_t*>(vaddr), writable};
  auto it = maps_.begin();
  while (it != maps_.end() && it->iova < iova) ++it;
  maps_.insert(it, m);
}

void QemuRam::unmap(uint64_t iova, uint64_t size) {
  std::erase_if(maps_,
                [&](const Mapping& m) { return m.iova >= iova && m.iova + m.size <= iova + size; });
}

uint8_t* QemuRam::host_of(uint64_t iova, uint64_t len, bool write) const {
  for (const auto& m : maps_)
    if (iova >= m.iova && iova + len <= m.iova + m.size) {
      if (write && !m.writable) return nullptr;
      return m.host + (iova - m.iova);
    }
  return nullptr;
}

void QemuRam::dma_write_page(uint64_t gpa_page, uint64_t value) {
  const uint64_t iova = gpa_page * page_size_;
  uint8_t* host = host_of(iova, page_size_, true);
  if (host == nullptr) {
    ++dropped_;
    return;
  }
  // The page's bytes follow from the device's value for it: both sides'
  // RAM can be compared byte for byte.
  for (uint64_t i = 0; i < page_size_ / 8; ++i) {
    const uint64_t w = models::mix64(value + i);
    std::memcpy(host + 8 * i, &w, 8);
  }
  for (uint64_t a = iova; a < iova + page_size_; a += kHashPageBytes) written_.insert(a);
  bytes_written_ += page_size_;
}

std::vector<PageHash> QemuRam::written_hashes() const {
  std::vector<PageHash> out;
  for (uint64_t iova : written_)
    if (const uint8_t* p = host_of(iova, kHashPageBytes, false))
      out.push_back({iova, hash_hex(page_hash(p))});
  return out;
}

std::vector<PageHash> QemuRam::nonzero_hashes() const {
  std::vector<PageHash> out;
  for (const auto& m : maps_) {
    if (!m.writable) continue;
    for (uint64_t off = 0; off + kHashPageBytes <= m.size; off += kHashPageBytes) {
      const auto* w = reinterpret_cast<const uint64_t*>(m.host + off);
      bool zero = true;
      for (size_t i = 0; i < kHashPageBytes / 8 && zero; ++i) zero = w[i] == 0;
      if (!zero) out.push_back({m.iova + off, hash_hex(page_hash(m.host + off))});
    }
  }
  return out;
}

// ------------------------------------------------------------------ SimHost

SimHost::SimHost(const HostConfig& config)
    : cfg_(config), scenario_(load(config)), ram_(scenario_.vm.page_size) {
  auto& dc = scenario_.device.config;
  dc.dma_buffer_gpa = kDmaBufferGpa;
  device_ = std::make_unique<models::GpuDevice>("vfio_host_device", dc);
  driver_ = std::make_unique<models::WorkloadDriver>("vfio_host_driver", *device_,
                                                     scenario_.workload, scenario_.seed);
  device_->attach_guest_memory(&ram_);
  driver_->set_guest_running(false);  // until QEMU starts the VM
  auto o = sim::frontend_options(scenario_, cfg_.role == "src");
  o.premap_guest_ram = false;  // QEMU maps guest RAM itself
  // v1's data section is mmap-able: the interposer serves QEMU's mmap with a
  // real shared mapping it keeps coherent (interposer.cpp).
  o.v1_data_mmap = true;
  frontend_ = std::make_unique<vfio::Frontend>(*device_, o);
  frontend_->set_observer(this);
  if (!cfg_.trace.empty()) {
    trace_.open(cfg_.trace, std::ios::trunc);
    if (!trace_) throw sim::InputError("MDEVSIM_VFIO_TRACE", "", "cannot write " + cfg_.trace);
  }
  report_.name = cfg_.device_name;
  report_.protocol = o.protocol == vfio::Protocol::kV1 ? "v1" : "v2";
  report_.state = frontend_->state_name();
  write_report();
}

SimHost::~SimHost() = default;

void SimHost::on_call(const vfio::CallRecord& record) { pending_.push_back(record); }

void SimHost::record(const vfio::CallRecord& record) {
  pending_.clear();
  pending_.push_back(record);
  after(record.ret);
}

void SimHost::trace_line(const vfio::CallRecord& r) {
  if (!trace_.is_open()) return;
  sim::AbiEvent e;
  e.t_s = sc_core::sc_time_stamp().to_seconds();
  e.host = cfg_.role;
  e.call = r;
  trace_ << sim::format_abi_line(e) << '\n';
  trace_.flush();
}

long SimHost::after(long ret) {
  bool key = false;
  for (const auto& r : pending_) {
    ++report_.calls;
    if (r.ret < 0) ++report_.errors;
    trace_line(r);
    for (size_t i = 1; i < r.path.size(); ++i)
      if (r.path[i] != r.path[i - 1]) report_.arcs.push_back(r.path[i - 1] + " -> " + r.path[i]);
    if (r.path.empty() && is_state_change_call(r) && r.state_before != r.state_after)
      report_.arcs.push_back(r.state_before + " -> " + r.state_after);
    if (r.call == "read" && r.ret == 0 && r.state_after == "STOP_COPY") {
      report_.digest_at_save_end = hash_hex(device_->state_hash());
      key = true;
    }
    if (leaves_resuming(r)) {
      report_.digest_after_resume = hash_hex(device_->state_hash());
      report_.ram_hashes_at_resume = ram_.nonzero_hashes();
      key = true;
    }
    // QEMU sets RUNNING (v1: writes 001b) when the VM starts; a paused VM
    // (-S) migrated from PRE_COPY has never run its guest driver.
    if (is_state_change_call(r) && r.ret >= 0 &&
        (r.state_after == "RUNNING" || r.state_after == "001b"))
      vm_started_ = true;
    key = key || r.state_before != r.state_after;
  }
  pending_.clear();
  const bool running = device_->running();
  if (was_running_ && !running) {
    report_.dma_pages = ram_.written_hashes();  // the device stopped: no more DMA
    key = true;
  }
  was_running_ = running;
  driver_->set_guest_running(vm_started_ && running);
  report_.dma_bytes_written = ram_.bytes_written();
  report_.state = frontend_->state_name();
  if (key) write_report();
  return ret;
}

long SimHost::ioctl(int fd, unsigned long request, void* arg) {
  pending_.clear();
  return after(frontend_->ioctl(fd, request, arg));
}

ssize_t SimHost::pread(int fd, void* buf, size_t len, uint64_t offset) {
  pending_.clear();
  const long r = frontend_->pread(fd, buf, len, offset);
  // v1: pending_bytes reading 0 in stop-and-copy (010b) ends the save stream.
  constexpr uint64_t kPendingBytes = (uint64_t{VFIO_PCI_NUM_REGIONS} << 40) + 8;
  if (r == 8 && offset == kPendingBytes && frontend_->state_name() == "010b") {
    uint64_t v;
    std::memcpy(&v, buf, 8);
    if (v == 0) {
      report_.digest_at_save_end = hash_hex(device_->state_hash());
      write_report();
    }
  }
  return after(r);
}

ssize_t SimHost::pwrite(int fd, const void* buf, size_t len, uint64_t offset) {
  pending_.clear();
  return after(frontend_->pwrite(fd, buf, len, offset));
}

ssize_t SimHost::read(int fd, void* buf, size_t len) {
  pending_.clear();
  return after(frontend_->read(fd, buf, len));
}

ssize_t SimHost::write(int fd, const void* buf, size_t len) {
  pending_.clear();
  return after(frontend_->write(fd, buf, len));
}

int SimHost::close(int fd) {
  pending_.clear();
  return static_cast<int>(after(frontend_->close(fd)));
}

void SimHost::write_report() {
  if (cfg_.report.empty()) return;
  Report r;
  r.pid = getpid();
  r.role = cfg_.role;
  r.devices.push_back(report_);
  const std::string tmp = cfg_.report + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << nlohmann::json(r).dump(1) << '\n';
    if (!out) return;
  }
  std::rename(tmp.c_str(), cfg_.report.c_str());
}

}  // namespace mdevsim::vfio_host
