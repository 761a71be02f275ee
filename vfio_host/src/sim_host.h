// The simulated host behind QEMU's VFIO fds: one GPU device with its
// workload (the guest driver), its VFIO frontend, and the guest RAM QEMU
// maps with VFIO_IOMMU_MAP_DMA. Lives on, and is only touched by, the
// simulation thread (sim_thread.h).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/memory/guest_memory.h"
#include "mdevsim/models/workload/workload_driver.h"
#include "mdevsim/sim/scenario.h"
#include "mdevsim/vfio/frontend.h"
#include "mdevsim/vfio_host/report.h"

namespace mdevsim::vfio_host {

// What the environment asks for (README.md lists the variables).
struct HostConfig {
  std::string scenario;                  // MDEVSIM_VFIO_SCENARIO ("" = the built-in default device)
  std::string protocol;                  // MDEVSIM_VFIO_PROTOCOL: "" | "v1" | "v2"
  std::string device_name = "mdevsim0";  // MDEVSIM_VFIO_DEVICE
  std::string trace;                     // MDEVSIM_VFIO_TRACE
  std::string report;                    // MDEVSIM_VFIO_REPORT
  double time_ratio = 1.0;               // MDEVSIM_VFIO_TIME_RATIO
  std::string role = "src";              // "dst" when QEMU runs with -incoming
  // Reads the variables; throws sim::InputError naming the variable.
  static HostConfig from_environment();
};

// Guest RAM as QEMU mapped it: device DMA lands in QEMU's real memory
// (MAP_DMA's vaddr, same process). Writes outside a writable mapping are
// dropped, as an IOMMU fault would drop them.
class QemuRam : public models::GuestMemory {
 public:
  explicit QemuRam(uint32_t page_size) : page_size_(page_size) {}
  void map(uint64_t iova, uint64_t size, uint64_t vaddr, bool writable);
  void unmap(uint64_t iova, uint64_t size);
  void dma_write_page(uint64_t gpa_page, uint64_t value) override;

  // Hashes of the 4 KiB pages the device wrote / of every non-zero 4 KiB
  // page of the writable mappings, in iova order.
  std::vector<PageHash> written_hashes() const;
  std::vector<PageHash> nonzero_hashes() const;
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t dropped_pages() const { return dropped_; }

 private:
  struct Mapping {
    uint64_t iova, size;
    uint8_t* host;
    bool writable;
  };
  uint8_t* host_of(uint64_t iova, uint64_t len, bool write) const;
  uint32_t page_size_;
  std::vector<Mapping> maps_;   // sorted by iova, disjoint (the frontend refuses overlaps)
  std::set<uint64_t> written_;  // 4 KiB iovas
  uint64_t bytes_written_ = 0, dropped_ = 0;
};

class SimHost : public vfio::CallObserver {
 public:
  explicit SimHost(const HostConfig& config);  // throws sim::InputError
  ~SimHost() override;

  const HostConfig& config() const { return cfg_; }
  vfio::Frontend& frontend() { return *frontend_; }
  QemuRam& ram() { return ram_; }

  // Frontend calls with the host's bookkeeping around them (trace, arcs,
  // report events, the workload's run gate).
  long ioctl(int fd, unsigned long request, void* arg);
  ssize_t pread(int fd, void* buf, size_t len, uint64_t offset);
  ssize_t pwrite(int fd, const void* buf, size_t len, uint64_t offset);
  ssize_t read(int fd, void* buf, size_t len);
  ssize_t write(int fd, const void* buf, size_t len);
  int close(int fd);

  // A call the interposer answered itself (group fds, container checks).
  void record(const vfio::CallRecord& record);
  void write_report();

  void on_call(const vfio::CallRecord& record) override;

 private:
  long after(long ret);
  void trace_line(const vfio::CallRecord& r);

  HostConfig cfg_;
  sim::Scenario scenario_;
  QemuRam ram_;
  std::unique_ptr<models::GpuDevice> device_;
  std::unique_ptr<models::WorkloadDriver> driver_;
  std::unique_ptr<vfio::Frontend> frontend_;
  std::ofstream trace_;
  DeviceReport report_;
  std::vector<vfio::CallRecord> pending_;  // frontend records of the current call
  bool was_running_ = true;
  bool vm_started_ = false;
};

}  // namespace mdevsim::vfio_host
