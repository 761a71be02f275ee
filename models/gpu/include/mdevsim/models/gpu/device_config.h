// Configuration of one GPU-like device: what a scenario's `device` section sets.
#pragma once

#include <cstdint>
#include <vector>

#include "mdevsim/models/memory/page_store.h"
#include "mdevsim/models/workload/workload_pattern.h"

namespace mdevsim::models {

struct DeviceConfig {
  uint64_t vram_bytes = uint64_t{1} << 30;
  uint32_t page_size = 64 * 1024;
  uint32_t contexts = 16;
  // How fast the compute/copy engines write VRAM; the workload's rate must be
  // below it or work queues up (bytes/s).
  double engine_bandwidth = 400.0 * (uint64_t{1} << 30);
  // Time from a stop request until every engine is quiet (seconds).
  double stop_latency_s = 0.0002;
  // Guest memory the DMA engine writes into (IOVA == GPA); pinned for DMA.
  uint64_t dma_buffer_gpa = 0;
  uint64_t dma_buffer_bytes = uint64_t{16} << 20;
  uint32_t guest_page_size = 4096;
  // VRAM holding content from time 0 (model weights); empty: none.
  std::vector<ResidentRegion> resident;
  // false on a migration's destination: the regions' content arrives.
  bool resident_loaded = true;
  uint64_t content_seed = 0;  // what the resident content derives from
};

// The guest driver's use of the device: VRAM writes plus DMA into guest RAM.
struct WorkloadSpec {
  PatternSpec vram;                     // the first (or only) pattern
  std::vector<PatternSpec> concurrent;  // further patterns running at the same time
  std::vector<PatternSpec> patterns() const {
    std::vector<PatternSpec> all{vram};
    all.insert(all.end(), concurrent.begin(), concurrent.end());
    return all;
  }
  double dma_rate_bytes_per_s = 0;       // device writes into guest RAM (within the DMA buffer)
  double dma_read_rate_bytes_per_s = 0;  // device reads of guest RAM (uploads from the buffer)
  double submit_interval_s = 0.001;      // how often the driver rings a doorbell
};

}  // namespace mdevsim::models
