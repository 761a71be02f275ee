// The device fd ioctls both protocols share (GET_INFO, regions, IRQs,
// RESET), region access and the PCI face (config space, BAR0).
#include <algorithm>

#include "frontend_impl.h"

namespace mdevsim::vfio {

long Frontend::Impl::device_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case VFIO_DEVICE_GET_INFO: {
      rec.request = "VFIO_DEVICE_GET_INFO";
      if (!arg) return fail(EFAULT, "no argument buffer");
      auto* info = static_cast<vfio_device_info*>(arg);
      if (info->argsz < offsetof(vfio_device_info, num_irqs) + sizeof(info->num_irqs))
        return fail(EINVAL, "argsz too small");
      info->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
      info->num_regions = v1() ? kMigrationRegionIndex + 1 : uint32_t{VFIO_PCI_NUM_REGIONS};
      info->num_irqs = kNumIrqs;
      return 0;
    }
    case VFIO_DEVICE_GET_REGION_INFO:
      rec.request = "VFIO_DEVICE_GET_REGION_INFO";
      return region_info(arg);
    case VFIO_DEVICE_RESET:
      rec.request = "VFIO_DEVICE_RESET";
      dev.reset();
      pci.reset();
      end_session();
      v1_saver.reset();
      v1_resumer.reset();
      v1_phase = V1Phase::kIdle;
      state = proto().default_state;
      v1_state = VFIO_DEVICE_STATE_V1_RUNNING;
      note(v1() ? "reset: the device runs again in 001b, the default; any save or resume "
                  "session is dropped"
                : "reset: the device runs again in its default state; any data fd now fails "
                  "with ENODEV");
      return 0;
    case VFIO_DEVICE_FEATURE:
      return device_feature(arg);
    case VFIO_DEVICE_GET_IRQ_INFO:
    case VFIO_DEVICE_SET_IRQS: {
      const bool get = request == VFIO_DEVICE_GET_IRQ_INFO;
      rec.request = get ? "VFIO_DEVICE_GET_IRQ_INFO" : "VFIO_DEVICE_SET_IRQS";
      if (!arg) return fail(EFAULT, "no argument buffer");
      std::string why;
      long r;
      if (get) {
        auto* i = static_cast<vfio_irq_info*>(arg);
        r = irqs.info(*i, why);
        rec.args = "index=" + std::to_string(i->index) + " count=" + std::to_string(i->count);
      } else {
        auto* i = static_cast<vfio_irq_set*>(arg);
        r = irqs.set(*i, why);
        rec.args = "index=" + std::to_string(i->index) + " flags=" + std::to_string(i->flags) +
                   " count=" + std::to_string(i->count);
      }
      return r < 0 ? fail(static_cast<int>(-r), why) : r;
    }
  }
  rec.request = "ioctl " + std::to_string(request);
  return fail(ENOTTY, "not an ioctl of a VFIO device fd");
}

long Frontend::Impl::region_info(void* arg) {
  if (!arg) return fail(EFAULT, "no argument buffer");
  auto* info = static_cast<vfio_region_info*>(arg);
  if (info->argsz < sizeof(vfio_region_info)) return fail(EINVAL, "argsz is smaller than 32");
  const uint32_t num = v1() ? kMigrationRegionIndex + 1 : uint32_t{VFIO_PCI_NUM_REGIONS};
  rec.args = "index=" + std::to_string(info->index);
  if (info->index >= num) return fail(EINVAL, "no region " + std::to_string(info->index));
  info->offset = uint64_t{info->index} << kRegionShift;
  info->cap_offset = 0;
  if (info->index != kMigrationRegionIndex) {
    // The PCI face: config space and BAR0 (trapped); other BARs, the ROM
    // and VGA do not exist (size 0).
    info->size = info->index == VFIO_PCI_CONFIG_REGION_INDEX ? kPciConfigSize
                 : info->index == VFIO_PCI_BAR0_REGION_INDEX ? pci_bar_size(dev.mmio_size())
                                                             : 0;
    info->flags = info->size ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
    return 0;
  }
  // Migration region: TYPE capability first, then the sparse mmap of the data section.
  const uint32_t caps = sizeof(vfio_region_info_cap_type) +
                        sizeof(vfio_region_info_cap_sparse_mmap) +
                        sizeof(vfio_region_sparse_mmap_area);
  const bool mmap = opt.v1_data_mmap;
  const uint32_t needed =
      sizeof(vfio_region_info) + (mmap ? caps : uint32_t{sizeof(vfio_region_info_cap_type)});
  info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                (mmap ? VFIO_REGION_INFO_FLAG_MMAP : 0) | VFIO_REGION_INFO_FLAG_CAPS;
  info->size = v1_region_size();
  if (info->argsz < needed) {
    info->argsz = needed;  // too small: succeed, ask for more room
    note("buffer too small for the capability chain: argsz raised to " + std::to_string(needed));
    return 0;
  }
  auto* base = static_cast<uint8_t*>(arg);
  auto* type = reinterpret_cast<vfio_region_info_cap_type*>(base + sizeof(vfio_region_info));
  type->header.id = VFIO_REGION_INFO_CAP_TYPE;
  type->header.version = 1;
  type->header.next = mmap ? sizeof(vfio_region_info) + sizeof(vfio_region_info_cap_type) : 0;
  type->type = VFIO_REGION_TYPE_MIGRATION_DEPRECATED;
  type->subtype = VFIO_REGION_SUBTYPE_MIGRATION_DEPRECATED;
  info->cap_offset = sizeof(vfio_region_info);  // a large enough argsz stays as passed
  if (!mmap) return 0;
  auto* sparse = reinterpret_cast<vfio_region_info_cap_sparse_mmap*>(base + type->header.next);
  sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
  sparse->header.version = 1;
  sparse->header.next = 0;
  sparse->nr_areas = 1;
  sparse->reserved = 0;
  sparse->areas[0].offset = kV1DataOffset;
  sparse->areas[0].size = data_section.size();
  return 0;
}

long Frontend::Impl::region_access(bool write, void* buf, size_t len, uint64_t offset) {
  const uint64_t index = offset >> kRegionShift, off = offset & ((uint64_t{1} << kRegionShift) - 1);
  rec.request = v1_field_name(off);
  rec.args = "offset=" + std::to_string(off) + " len=" + std::to_string(len);
  if (index == VFIO_PCI_CONFIG_REGION_INDEX || index == VFIO_PCI_BAR0_REGION_INDEX)
    return pci_access(index == VFIO_PCI_CONFIG_REGION_INDEX, write, buf, len, off);
  if (!v1() || index != kMigrationRegionIndex)
    return fail(EINVAL, "no readable region at this offset");
  if (buf == nullptr) return fail(EFAULT, "no buffer");
  if (off >= kV1DataOffset) {
    if (off + len > v1_region_size() || off + len < off)
      return fail(EINVAL, "beyond the data section");
    uint8_t* data = data_section.data() + (off - kV1DataOffset);
    if (write)
      std::memcpy(data, buf, len);
    else
      std::memcpy(buf, data, len);
    return static_cast<long>(len);
  }
  // Header: each field only at its native width and alignment.
  const bool u32_field = (off == kOffState || off == kOffReserved) && len == 4;
  const bool u64_field =
      (off == kOffPending || off == kOffDataOffset || off == kOffDataSize) && len == 8;
  if (!u32_field && !u64_field)
    return fail(EINVAL,
                "migration-info fields are accessed only at their native width and alignment");
  return write ? v1_write_field(off, buf) : v1_read_field(off, buf);
}

long Frontend::Impl::pci_access(bool config, bool write, void* buf, size_t len, uint64_t off) {
  rec.request = config ? "config" : "bar0";
  if (buf == nullptr) return fail(EFAULT, "no buffer");
  if (config) {
    const long r = write ? pci.write(off, buf, len) : pci.read(off, buf, len);
    return r < 0 ? fail(static_cast<int>(-r), "beyond the 256-byte config space") : r;
  }
  const uint64_t size = pci_bar_size(dev.mmio_size());
  if (off >= size || len > size - off) return fail(EINVAL, "beyond BAR0");
  auto* bytes = static_cast<uint8_t*>(buf);
  for (uint64_t a = off; a < off + len;) {
    const uint64_t reg = a & ~uint64_t{3}, n = std::min<uint64_t>(reg + 4, off + len) - a;
    uint32_t v = 0;
    dev.mmio_read(static_cast<uint32_t>(reg), v);
    auto* vb = reinterpret_cast<uint8_t*>(&v) + (a - reg);
    if (write) {
      std::memcpy(vb, bytes + (a - off), n);
      dev.mmio_write(static_cast<uint32_t>(reg), v);
    } else {
      std::memcpy(bytes + (a - off), vb, n);
    }
    a += n;
  }
  return static_cast<long>(len);
}

}  // namespace mdevsim::vfio
