// vfio-pci's view of the device: config space, BAR0 sizing, ERR/REQ irqs.
// Checks follow drivers/vfio/pci (vfio_pci_core_ioctl GET_IRQ_INFO,
// vfio_set_irqs_validate_and_prepare); contents are chosen for QEMU.
#include "mdevsim/vfio/pci_face.h"

#include <bit>
#include <cerrno>
#include <cstring>

namespace mdevsim::vfio {

namespace {
constexpr uint32_t kOffCommand = 0x04, kOffBar0 = 0x10, kOffIntLine = 0x3c;

void put16(std::array<uint8_t, kPciConfigSize>& c, uint32_t off, uint16_t v) {
  std::memcpy(&c[off], &v, 2);
}
void put32(std::array<uint8_t, kPciConfigSize>& c, uint32_t off, uint32_t v) {
  std::memcpy(&c[off], &v, 4);
}
}  // namespace

uint32_t pci_bar_size(uint32_t mmio_bytes) {
  if (mmio_bytes == 0) return 0;
  return std::bit_ceil(std::max<uint32_t>(mmio_bytes, 4096));
}

PciConfigSpace::PciConfigSpace(uint32_t bar0_size) : bar0_size_(bar0_size) {
  put16(cfg_, 0x00, kPciVendorId);
  put16(cfg_, 0x02, kPciDeviceId);
  cfg_[0x08] = 0x01;  // revision
  cfg_[0x09] = kPciClassCode & 0xff;
  cfg_[0x0a] = (kPciClassCode >> 8) & 0xff;
  cfg_[0x0b] = (kPciClassCode >> 16) & 0xff;
  cfg_[0x0e] = 0x00;                // header type 0, single function
  put16(cfg_, 0x2c, kPciVendorId);  // subsystem vendor / device
  put16(cfg_, 0x2e, kPciDeviceId);
  // status 0 (no CAP_LIST), BAR0 a 32-bit non-prefetchable memory BAR at 0,
  // capabilities pointer 0, interrupt pin 0: all zero already.
}

void PciConfigSpace::reset() {
  put16(cfg_, kOffCommand, 0);
  put32(cfg_, kOffBar0, 0);
}

uint16_t PciConfigSpace::command() const {
  uint16_t v;
  std::memcpy(&v, &cfg_[kOffCommand], 2);
  return v;
}

long PciConfigSpace::read(uint64_t offset, void* buf, size_t len) const {
  if (offset >= kPciConfigSize || len > kPciConfigSize - offset) return -EINVAL;
  std::memcpy(buf, &cfg_[offset], len);
  return static_cast<long>(len);
}

long PciConfigSpace::write(uint64_t offset, const void* buf, size_t len) {
  if (offset >= kPciConfigSize || len > kPciConfigSize - offset) return -EINVAL;
  const auto* in = static_cast<const uint8_t*>(buf);
  // Byte by byte through a write mask: any width and alignment works.
  for (size_t i = 0; i < len; ++i) {
    const uint64_t at = offset + i;
    uint8_t mask = 0;
    if (at == kOffCommand) mask = 0x07;      // I/O, memory, bus master enables
    if (at == kOffCommand + 1) mask = 0x04;  // INTx disable
    if (at >= kOffBar0 && at < kOffBar0 + 4 && bar0_size_ > 0) {
      const uint32_t addr_mask = ~(bar0_size_ - 1) & ~uint32_t{0xf};
      mask = static_cast<uint8_t>(addr_mask >> (8 * (at - kOffBar0)));
    }
    if (at == kOffIntLine) mask = 0xff;
    cfg_[at] = static_cast<uint8_t>((cfg_[at] & ~mask) | (in[i] & mask));
  }
  return static_cast<long>(len);
}

long PciIrqs::info(vfio_irq_info& info, std::string& why) const {
  if (info.argsz < sizeof(vfio_irq_info)) {
    why = "argsz is smaller than 16";
    return -EINVAL;
  }
  if (info.index >= kNumIrqs) {
    why = "no irq index " + std::to_string(info.index);
    return -EINVAL;
  }
  info.flags = VFIO_IRQ_INFO_EVENTFD;
  if (info.index == VFIO_PCI_INTX_IRQ_INDEX)
    info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
  else
    info.flags |= VFIO_IRQ_INFO_NORESIZE;
  // Interrupt pin 0, no MSI/MSI-X capability: only the error and request
  // notifications exist.
  info.count = info.index == VFIO_PCI_ERR_IRQ_INDEX || info.index == VFIO_PCI_REQ_IRQ_INDEX;
  return 0;
}

long PciIrqs::set(const vfio_irq_set& s, std::string& why) {
  constexpr size_t minsz = offsetof(vfio_irq_set, count) + sizeof(s.count);
  if (s.argsz < minsz || s.index >= kNumIrqs ||
      (s.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK))) {
    why = "argsz, index or flags out of range";
    return -EINVAL;
  }
  const uint32_t data = s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
  const uint32_t action = s.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
  if (std::popcount(data) != 1 || std::popcount(action) != 1) {
    why = "exactly one data type and one action";
    return -EINVAL;
  }
  vfio_irq_info inf{};
  inf.argsz = sizeof inf;
  inf.index = s.index;
  std::string ignored;
  info(inf, ignored);
  if (s.count != 0 && (s.start >= inf.count || s.start + uint64_t{s.count} > inf.count)) {
    why = "start + count exceeds the " + std::to_string(inf.count) + " vectors of index " +
          std::to_string(s.index);
    return -EINVAL;
  }
  const size_t size = data == VFIO_IRQ_SET_DATA_EVENTFD ? 4
                      : data == VFIO_IRQ_SET_DATA_BOOL  ? 1
                                                        : 0;
  if (size && s.argsz - minsz < size * s.count) {
    why = "argsz leaves no room for the data";
    return -EINVAL;
  }
  if (s.index != VFIO_PCI_ERR_IRQ_INDEX && s.index != VFIO_PCI_REQ_IRQ_INDEX) {
    if (s.count == 0 && data == VFIO_IRQ_SET_DATA_NONE) return 0;  // disable: nothing enabled
    why = "this device has no INTx, MSI or MSI-X vectors";
    return -EINVAL;
  }
  if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
    why = "ERR and REQ support only ACTION_TRIGGER";
    return -EINVAL;
  }
  if (data == VFIO_IRQ_SET_DATA_NONE && s.count == 0) {
    trigger_[s.index] = -1;
    return 0;
  }
  if (data == VFIO_IRQ_SET_DATA_EVENTFD && s.count == 1) {
    int fd;
    std::memcpy(&fd, s.data, 4);
    trigger_[s.index] = fd;  // -1 unregisters
    return 0;
  }
  if (s.count == 1) return 0;  // NONE/BOOL with count 1: would signal; nothing listens here
  why = "ERR and REQ have one vector";
  return -EINVAL;
}

int PciIrqs::trigger_fd(uint32_t index) const { return index < kNumIrqs ? trigger_[index] : -1; }

}  // namespace mdevsim::vfio
