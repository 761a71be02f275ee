// The frontend's PCI face and the options a real VMM needs (vfio_host):
// guest RAM mapped only by the VMM, and v1's data section without FLAG_MMAP
// when the caller cannot map it.
#include "frontend_fixture.h"
#include "mdevsim/vfio/pci_face.h"

namespace mdevsim::vfio::testing {
namespace {

long map_dma(Frontend& fe, uint64_t iova, uint64_t size) {
  vfio_iommu_type1_dma_map m{};
  m.argsz = sizeof m;
  m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  m.iova = iova;
  m.size = size;
  return fe.ioctl(fe.container_fd(), VFIO_IOMMU_MAP_DMA, &m);
}

TEST(PciFace, GuestRamIsPremappedOnlyForTheSimulatorsDriver) {
  models::GpuDevice dev("dev", test_device_config());
  FrontendOptions o;
  o.guest_ram_bytes = 256 << 20;
  Frontend premapped(dev, o);
  EXPECT_EQ(map_dma(premapped, 0, 256 << 20), -EEXIST);  // the simulator's own driver never maps
  o.premap_guest_ram = false;
  Frontend vmm(dev, o);
  EXPECT_EQ(map_dma(vmm, 0, 0xc0000), 0);  // QEMU's first MAP_DMA (reference transcript)
  EXPECT_EQ(map_dma(vmm, 0x100000, 0xff00000), 0);
  EXPECT_EQ(map_dma(vmm, 0x80000, 0x1000), -EEXIST);
}

TEST(PciFace, V1DataSectionWithoutMmapHasOnlyTheTypeCapability) {
  models::GpuDevice dev("dev", test_device_config());
  FrontendOptions o;
  o.protocol = Protocol::kV1;
  o.v1_data_mmap = false;
  Frontend fe(dev, o);
  vfio_region_info small{};
  small.argsz = sizeof small;
  small.index = VFIO_PCI_NUM_REGIONS;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_GET_REGION_INFO, &small), 0);
  // Room for the 16-byte TYPE capability only.
  EXPECT_EQ(small.argsz, sizeof(vfio_region_info) + sizeof(vfio_region_info_cap_type));
  EXPECT_EQ(small.flags & VFIO_REGION_INFO_FLAG_MMAP, 0u);
  EXPECT_EQ(fe.mmap(fe.device_fd(), (uint64_t{VFIO_PCI_NUM_REGIONS} << 40) + 4096, 4096), nullptr);
}

TEST(PciFace, ConfigSpaceWritesReachOnlyWritableBits) {
  PciConfigSpace cfg(pci_bar_size(0x1400));
  EXPECT_EQ(pci_bar_size(0x1400), 0x2000u);  // powers of two
  EXPECT_EQ(pci_bar_size(1), 0x1000u);       // at least a page
  EXPECT_EQ(pci_bar_size(0), 0u);
  const uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff};
  // BAR0 byte by byte: the size bits stay 0, the type bits stay 0 (32-bit memory).
  for (uint64_t i = 0; i < 4; ++i) ASSERT_EQ(cfg.write(0x10 + i, &ones[i], 1), 1);
  uint32_t bar = 0;
  ASSERT_EQ(cfg.read(0x10, &bar, 4), 4);
  EXPECT_EQ(bar, 0xffffe000u);
  uint16_t cmd = 0xffff;
  ASSERT_EQ(cfg.write(0x04, &cmd, 2), 2);
  EXPECT_EQ(cfg.command(), 0x0407u);  // I/O, memory, bus master, INTx disable
  cfg.reset();
  EXPECT_EQ(cfg.command(), 0u);
  ASSERT_EQ(cfg.read(0x10, &bar, 4), 4);
  EXPECT_EQ(bar, 0u);
  EXPECT_EQ(cfg.read(255, &bar, 2), -EINVAL);
  EXPECT_EQ(cfg.write(256, &bar, 1), -EINVAL);
}

}  // namespace
}  // namespace mdevsim::vfio::testing
