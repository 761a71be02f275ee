// The device's PCI face, as vfio-pci shows a device to a VMM: a 256-byte
// conventional config space (region 7), BAR0 = the device's MMIO registers
// (region 0, trapped through pread/pwrite), and the interrupt indexes with
// only the ERR and REQ eventfds (no INTx, MSI or MSI-X).
//
// The contents are what an unmodified QEMU accepts without a quirk
// (../shared/reference/qemu-as-a-client.md): a vendor ID QEMU has no quirks
// for, class 0x0380 (display controller, other), status without CAP_LIST
// (no capability chain), interrupt pin 0, no expansion ROM.
#pragma once

#include <linux/vfio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mdevsim::vfio {

inline constexpr uint16_t kPciVendorId = 0x4d44;     // "MD", from DEVICE_ID "MDV1"
inline constexpr uint16_t kPciDeviceId = 0x5631;     // "V1"
inline constexpr uint32_t kPciClassCode = 0x038000;  // display controller, other, prog-if 0
inline constexpr uint32_t kPciConfigSize = 256;

// BAR sizes are powers of two; the smallest memory BAR is one page.
uint32_t pci_bar_size(uint32_t mmio_bytes);

class PciConfigSpace {
 public:
  explicit PciConfigSpace(uint32_t bar0_size);
  // Return bytes moved or -errno (EINVAL beyond the 256 bytes). Writes reach
  // only the writable bits: COMMAND, BAR0's address bits, INTERRUPT_LINE;
  // everything else reads back unchanged (the ROM BAR stays 0: no ROM).
  long read(uint64_t offset, void* buf, size_t len) const;
  long write(uint64_t offset, const void* buf, size_t len);
  void reset();  // function-level reset: COMMAND and BAR0 cleared
  uint16_t command() const;

 private:
  uint32_t bar0_size_;
  std::array<uint8_t, kPciConfigSize> cfg_{};
};

// VFIO_DEVICE_GET_IRQ_INFO and VFIO_DEVICE_SET_IRQS for the PCI indexes.
// Return 0 or -errno; `why` explains a failure in the frontend's words.
class PciIrqs {
 public:
  static constexpr uint32_t kNumIrqs = VFIO_PCI_NUM_IRQS;
  long info(vfio_irq_info& info, std::string& why) const;
  long set(const vfio_irq_set& set, std::string& why);
  int trigger_fd(uint32_t index) const;  // the eventfd for ERR/REQ, or -1
  void reset() {}                        // eventfds survive a reset, as in vfio-pci

 private:
  std::array<int, kNumIrqs> trigger_{-1, -1, -1, -1, -1};
};

}  // namespace mdevsim::vfio
