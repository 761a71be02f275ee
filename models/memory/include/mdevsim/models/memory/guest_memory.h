// What the device's DMA engine writes into: the guest's RAM, as seen through
// the IOMMU (IOVA == GPA, no vIOMMU). Implemented by the simulated host.
#pragma once

#include <cstdint>

namespace mdevsim::models {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // Device DMA writes `value` into guest page `gpa_page` (guest page units).
  virtual void dma_write_page(uint64_t gpa_page, uint64_t value) = 0;
};

}  // namespace mdevsim::models
