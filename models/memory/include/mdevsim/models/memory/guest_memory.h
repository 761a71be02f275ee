// What the device's DMA engine writes into and reads from: the guest's RAM,
// as seen through the IOMMU (IOVA == GPA, no vIOMMU). Implemented by the
// simulated host.
#pragma once

#include <cstdint>

namespace mdevsim::models {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // Device DMA writes `value` into guest page `gpa_page` (guest page units).
  virtual void dma_write_page(uint64_t gpa_page, uint64_t value) = 0;
  // Device DMA reads guest page `gpa_page`: its content token (0: zero page).
  virtual uint64_t dma_read_page(uint64_t /*gpa_page*/) const { return 0; }
  // Post-copy with device I/O page faults (option P2): called from the
  // device's SystemC thread before a DMA read; a page still at the source
  // faults (IOMMU page request) and the call waits until it is placed.
  virtual void dma_touch_page(uint64_t /*gpa_page*/) {}
  // Whether a DMA read may fault now (pages are missing).
  virtual bool dma_may_fault() const { return false; }
};

}  // namespace mdevsim::models
