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
#include <utility>
#include <vector>

#include "mdevsim/models/factory/device.h"
#include "mdevsim/models/memory/guest_memory.h"
#include "mdevsim/models/memory/guest_memory_target.h"
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
  bool stream_buffers = true;            // MDEVSIM_VFIO_BUFFERS=0: a hand-off per data-fd call
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

  // A frontend call with the host's bookkeeping around it (trace, arcs,
  // report events, the workload's run gate):
  //   h.call(&vfio::Frontend::ioctl, fd, request, arg)
  template <class R, class... P, class... A>
  long call(R (vfio::Frontend::*fn)(P...), A&&... args) {
    pending_.clear();
    return after((frontend_.get()->*fn)(std::forward<A>(args)...));
  }
  // pread, which also notes v1's end of stream (pending_bytes reads 0).
  ssize_t pread(int fd, void* buf, size_t len, uint64_t offset);

  // For the interposer's data-fd buffers (data_stream.h). read_held: a read
  // whose records are kept in `held`, not yet traced or counted; replay()
  // does that when QEMU's own read is served from those bytes (at wall time
  // `wall_ns`), as if it had been made then. write_behind: a write QEMU was
  // already answered for; a failure's record says so.
  ssize_t read_held(int fd, void* buf, size_t len, std::vector<vfio::CallRecord>& held);
  void replay(std::vector<vfio::CallRecord> held, long ret, uint64_t wall_ns);
  ssize_t write_behind(int fd, const void* buf, size_t len);

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
  std::unique_ptr<models::GuestMemoryTarget> ram_port_;  // ram_ as the device DMA's TLM target
  std::unique_ptr<models::Device> device_;
  std::unique_ptr<models::GuestDriver> driver_;
  std::unique_ptr<vfio::Frontend> frontend_;
  std::ofstream trace_;
  DeviceReport report_;
  std::vector<vfio::CallRecord> pending_;  // frontend records of the current call
  uint64_t call_wall_ns_ = 0;              // replay: when QEMU made the call (0: now)
  bool was_running_ = true;
  bool vm_started_ = false;
};

}  // namespace mdevsim::vfio_host
