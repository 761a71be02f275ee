// The device's PCI face as QEMU reads it through the interposer: device and
// region info, the config space bytes (PCI spec header type 0 layout), BAR0
// sizing and the register table behind it, the IRQ indexes.
#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "mdevsim/models/gpu/bar0_registers.h"
#include "vfio_host_fixture.h"

// glibc's fortified pread, which the interposer exports too.
extern "C" ssize_t __pread64_chk(int, void*, size_t, off_t, size_t);

namespace mdevsim::testing {
namespace {

uint32_t cfg32(int device, uint32_t off) {
  uint32_t v = 0;
  EXPECT_EQ(::pread(device, &v, 4, region_offset(VFIO_PCI_CONFIG_REGION_INDEX) + off), 4);
  return v;
}

void cfg_write32(int device, uint32_t off, uint32_t v) {
  EXPECT_EQ(::pwrite(device, &v, 4, region_offset(VFIO_PCI_CONFIG_REGION_INDEX) + off), 4);
}

TEST(VfioHostPci, DeviceInfoHasThePciShapeQemuNeeds) {
  const auto f = open_device();
  vfio_device_info info{};
  info.argsz = sizeof info;
  ASSERT_EQ(::ioctl(f.device, VFIO_DEVICE_GET_INFO, &info), 0);
  EXPECT_EQ(info.flags, uint32_t{VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET});
  EXPECT_EQ(info.num_regions, uint32_t{VFIO_PCI_NUM_REGIONS});  // v2: the 9 standard ones
  EXPECT_GE(info.num_irqs, 3u);

  const auto cfg = region_info(f.device, VFIO_PCI_CONFIG_REGION_INDEX);
  EXPECT_EQ(cfg.size, 256u);
  EXPECT_EQ(cfg.flags, uint32_t{VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE});
  const auto bar0 = region_info(f.device, VFIO_PCI_BAR0_REGION_INDEX);
  // The register table: globals, then 4 KiB + contexts x 64 B; BARs are powers of two.
  const uint32_t regs = models::kContextBase + 16 * models::kContextStride;  // default: 16 contexts
  EXPECT_GE(bar0.size, regs);
  EXPECT_EQ(bar0.size & (bar0.size - 1), 0u);
  EXPECT_EQ(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP, 0u);  // trapped
  for (uint32_t i : {1u, 2u, 3u, 4u, 5u, 6u, 8u}) EXPECT_EQ(region_info(f.device, i).size, 0u) << i;
  vfio_region_info none{};
  none.argsz = sizeof none;
  none.index = VFIO_PCI_NUM_REGIONS;
  EXPECT_EQ(rc(::ioctl(f.device, VFIO_DEVICE_GET_REGION_INFO, &none)), -EINVAL);
}

TEST(VfioHostPci, ConfigSpaceIsAQuirkFreeDisplayController) {
  const auto f = open_device();
  uint8_t cfg[256];
  ASSERT_EQ(::pread(f.device, cfg, sizeof cfg, region_offset(VFIO_PCI_CONFIG_REGION_INDEX)), 256);
  uint16_t vendor, status;
  std::memcpy(&vendor, cfg, 2);
  std::memcpy(&status, cfg + 6, 2);
  EXPECT_NE(vendor, 0xffff);
  for (uint16_t quirky : {0x10de, 0x1002, 0x8086, 0x1425, 0x1d22, 0x1014, 0x10ec})
    EXPECT_NE(vendor, quirky);
  EXPECT_EQ(status & 0x10, 0) << "CAP_LIST set without a capability chain";
  EXPECT_EQ(cfg[0x0b], 0x03);         // class: display controller
  EXPECT_EQ(cfg[0x0a], 0x80);         // subclass: other
  EXPECT_EQ(cfg[0x0e] & 0x7f, 0x00);  // header type 0
  EXPECT_EQ(cfg[0x3d], 0x00);         // interrupt pin: none (no INTx)
  EXPECT_EQ(cfg[0x34], 0x00);         // no capabilities

  // QEMU's fortified config reads go through __pread64_chk.
  uint8_t pin = 0xff;
  EXPECT_EQ(__pread64_chk(f.device, &pin, 1, region_offset(VFIO_PCI_CONFIG_REGION_INDEX) + 0x3d, 1),
            1);
  EXPECT_EQ(pin, 0);

  // ROM sizing reads back 0: no expansion ROM.
  cfg_write32(f.device, 0x30, 0xfffff800);
  EXPECT_EQ(cfg32(f.device, 0x30), 0u);
  // BAR0 sizing: all ones read back as ~(size - 1) with the type bits (32-bit memory).
  const auto bar0 = region_info(f.device, VFIO_PCI_BAR0_REGION_INDEX);
  cfg_write32(f.device, 0x10, 0xffffffff);
  EXPECT_EQ(cfg32(f.device, 0x10), static_cast<uint32_t>(~(bar0.size - 1)));
  cfg_write32(f.device, 0x10, 0);
  EXPECT_EQ(cfg32(f.device, 0x10), 0u);
  cfg_write32(f.device, 0x14, 0xffffffff);  // BAR1 does not exist
  EXPECT_EQ(cfg32(f.device, 0x14), 0u);
  // Vendor ID is read-only.
  cfg_write32(f.device, 0x00, 0);
  EXPECT_EQ(cfg32(f.device, 0x00) & 0xffff, vendor);
  EXPECT_EQ(rc(::pread(f.device, cfg, 8, region_offset(VFIO_PCI_CONFIG_REGION_INDEX) + 252)),
            -EINVAL);

  // COMMAND survives until DEVICE_RESET.
  cfg_write32(f.device, 0x04, 0x0006);
  EXPECT_EQ(cfg32(f.device, 0x04) & 0xffff, 0x0006u);
  EXPECT_EQ(::ioctl(f.device, VFIO_DEVICE_RESET), 0);
  EXPECT_EQ(cfg32(f.device, 0x04) & 0xffff, 0u);
}

TEST(VfioHostPci, Bar0IsTheRegisterTable) {
  const auto f = open_device();
  const uint64_t bar0 = region_offset(VFIO_PCI_BAR0_REGION_INDEX);
  uint32_t v = 0;
  ASSERT_EQ(::pread(f.device, &v, 4, bar0 + models::kGlobalRegisters[models::kDeviceId].offset), 4);
  EXPECT_EQ(v, 0x4d445631u);  // "MDV1"
  uint16_t half = 0;
  ASSERT_EQ(::pread(f.device, &half, 2, bar0 + 2), 2);
  EXPECT_EQ(half, 0x4d44u);
  // INTR_MASK is RW: a write reads back.
  const uint32_t mask_off = models::kGlobalRegisters[models::kIntrMask].offset;
  v = 0x5;
  ASSERT_EQ(::pwrite(f.device, &v, 4, bar0 + mask_off), 4);
  v = 0;
  ASSERT_EQ(::pread(f.device, &v, 4, bar0 + mask_off), 4);
  EXPECT_EQ(v, 0x5u);
  const auto info = region_info(f.device, VFIO_PCI_BAR0_REGION_INDEX);
  EXPECT_EQ(rc(::pread(f.device, &v, 4, bar0 + info.size)), -EINVAL);
}

TEST(VfioHostPci, OnlyErrAndReqInterruptsWithEventfds) {
  const auto f = open_device();
  for (uint32_t i = 0; i < VFIO_PCI_NUM_IRQS; ++i) {
    vfio_irq_info irq{};
    irq.argsz = sizeof irq;
    irq.index = i;
    ASSERT_EQ(::ioctl(f.device, VFIO_DEVICE_GET_IRQ_INFO, &irq), 0) << i;
    const bool has = i == VFIO_PCI_ERR_IRQ_INDEX || i == VFIO_PCI_REQ_IRQ_INDEX;
    EXPECT_EQ(irq.count, has ? 1u : 0u) << i;
    EXPECT_TRUE(irq.flags & VFIO_IRQ_INFO_EVENTFD) << i;
  }
  alignas(8) uint8_t buf[sizeof(vfio_irq_set) + sizeof(int32_t)];
  auto* set = reinterpret_cast<vfio_irq_set*>(buf);
  set->argsz = sizeof buf;
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = VFIO_PCI_REQ_IRQ_INDEX;
  set->start = 0;
  set->count = 1;
  const int32_t efd = 42;
  std::memcpy(set->data, &efd, 4);
  EXPECT_EQ(::ioctl(f.device, VFIO_DEVICE_SET_IRQS, buf), 0);
  set->index = VFIO_PCI_MSI_IRQ_INDEX;  // no MSI vectors
  EXPECT_EQ(rc(::ioctl(f.device, VFIO_DEVICE_SET_IRQS, buf)), -EINVAL);
  set->index = VFIO_PCI_REQ_IRQ_INDEX;
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_TRIGGER;
  EXPECT_EQ(rc(::ioctl(f.device, VFIO_DEVICE_SET_IRQS, buf)), -EINVAL);  // two actions
}

TEST(VfioHostPci, V1MigrationRegionIsIndexNineWithARealSharedMapping) {
  const auto f = open_device("v1");
  vfio_device_info info{};
  info.argsz = sizeof info;
  ASSERT_EQ(::ioctl(f.device, VFIO_DEVICE_GET_INFO, &info), 0);
  EXPECT_EQ(info.num_regions, 10u);
  alignas(8) uint8_t buf[256] = {};
  auto* r = reinterpret_cast<vfio_region_info*>(buf);
  r->argsz = sizeof buf;
  r->index = 9;
  ASSERT_EQ(::ioctl(f.device, VFIO_DEVICE_GET_REGION_INFO, buf), 0);
  ASSERT_TRUE(r->flags & VFIO_REGION_INFO_FLAG_CAPS);
  ASSERT_TRUE(r->flags & VFIO_REGION_INFO_FLAG_MMAP);
  ASSERT_GE(r->cap_offset, sizeof(vfio_region_info));
  const auto* type = reinterpret_cast<const vfio_region_info_cap_type*>(buf + r->cap_offset);
  EXPECT_EQ(type->header.id, VFIO_REGION_INFO_CAP_TYPE);
  EXPECT_EQ(type->type, 3u);
  EXPECT_EQ(type->subtype, 1u);
  ASSERT_NE(type->header.next, 0u);
  const auto* sparse =
      reinterpret_cast<const vfio_region_info_cap_sparse_mmap*>(buf + type->header.next);
  ASSERT_EQ(sparse->header.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
  ASSERT_EQ(sparse->nr_areas, 1u);
  const auto area = sparse->areas[0];

  // QEMU 7.2 maps the sparse area and copies data through it: the mapping
  // must be real memory showing what the device staged.
  auto* m = static_cast<uint8_t*>(::mmap(nullptr, area.size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                         f.device, r->offset + area.offset));
  ASSERT_NE(m, MAP_FAILED);
  const uint64_t mig = region_offset(9);
  uint32_t state = VFIO_DEVICE_STATE_V1_SAVING | VFIO_DEVICE_STATE_V1_RUNNING;
  ASSERT_EQ(::pwrite(f.device, &state, 4, mig + 0), 4);
  uint64_t pending = 0, data_offset = 0, data_size = 0;
  ASSERT_EQ(::pread(f.device, &pending, 8, mig + 8), 8);
  ASSERT_GT(pending, 0u);
  ASSERT_EQ(::pread(f.device, &data_offset, 8, mig + 16), 8);
  EXPECT_EQ(data_offset, area.offset);
  ASSERT_EQ(::pread(f.device, &data_size, 8, mig + 24), 8);
  ASSERT_GT(data_size, 0u);
  ASSERT_LE(data_size, area.size);
  std::vector<uint8_t> trapped(data_size);
  ASSERT_EQ(::pread(f.device, trapped.data(), data_size, mig + data_offset),
            static_cast<ssize_t>(data_size));
  EXPECT_EQ(std::memcmp(m, trapped.data(), data_size), 0) << "the mapping shows other bytes";
  EXPECT_EQ(::munmap(m, area.size), 0);
}

}  // namespace
}  // namespace mdevsim::testing
