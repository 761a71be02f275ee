// Device DMA logging (dma_logging.cpp): VFIO_DEVICE_FEATURE_DMA_LOGGING_*
// start checks, and reports of the pages device DMA wrote.
#include "frontend_fixture.h"

namespace mdevsim::vfio {
namespace {

using namespace mdevsim::vfio::testing;

struct LogStart {
  alignas(8) uint8_t raw[8 + sizeof(vfio_device_feature_dma_logging_control)] = {};
  vfio_device_feature& hdr = *reinterpret_cast<vfio_device_feature*>(raw);
  vfio_device_feature_dma_logging_control& ctl =
      *reinterpret_cast<vfio_device_feature_dma_logging_control*>(raw + 8);
  LogStart() {
    hdr.argsz = sizeof(raw);
    hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START;
  }
};

TEST(DmaLogging, StartChecks) {
  Pair p(ram_options());
  auto& fe = p.src;
  std::vector<vfio_device_feature_dma_logging_range> ranges(300, {0, 4096});
  LogStart s;
  s.ctl.page_size = 4096;
  s.ctl.ranges = reinterpret_cast<uint64_t>(ranges.data());
  s.ctl.num_ranges = 0;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "no ranges";
  s.ctl.num_ranges = 257;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -E2BIG);
  s.ctl.num_ranges = 2;
  ranges[0] = {0, 8192};
  ranges[1] = {4096, 4096};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "overlap";
  ranges[1] = {100, 4096};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "unaligned";
  ranges[1] = {~uint64_t{0} - 4095 - 4096, 8192};
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EOVERFLOW);
  ranges[1] = {1 << 20, 63 << 20};
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), 0);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "one START until STOP";
  s.hdr.argsz = 16;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), -EINVAL) << "payload too small";
}

TEST(DmaLogging, ReportSetsBitsForDmaWritesAndClears) {
  Pair p(ram_options());
  auto& fe = p.src;
  vfio_device_feature_dma_logging_range range{0, 64 << 20};
  LogStart s;
  s.ctl.page_size = 4096;
  s.ctl.num_ranges = 1;
  s.ctl.ranges = reinterpret_cast<uint64_t>(&range);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, &s), 0);
  sc_core::sc_start(sc_core::sc_time(50, sc_core::SC_MS));
  std::vector<uint64_t> bitmap(256);
  alignas(8) uint8_t raw[8 + sizeof(vfio_device_feature_dma_logging_report)] = {};
  auto* hdr = reinterpret_cast<vfio_device_feature*>(raw);
  auto* rep = reinterpret_cast<vfio_device_feature_dma_logging_report*>(raw + 8);
  hdr->argsz = sizeof(raw);
  hdr->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
  rep->iova = 0;
  rep->length = 64 << 20;
  rep->page_size = 2048;
  rep->bitmap = reinterpret_cast<uint64_t>(bitmap.data());
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "page_size < 4096";
  rep->page_size = 12288;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "not a power of two";
  rep->page_size = 4096;
  rep->length = ~uint64_t{0};
  rep->iova = 4096;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EOVERFLOW);
  rep->iova = 0;
  rep->length = 64 << 20;
  hdr->argsz = 39;
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "argsz < 40";
  hdr->argsz = sizeof(raw);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), 0);
  uint64_t set = 0;
  for (auto w : bitmap) set += static_cast<uint64_t>(__builtin_popcountll(w));
  // The test workload DMAs 4 MiB/s of 4 KiB pages into a 1 MiB buffer for 50 ms: ~51 writes.
  EXPECT_GT(set, 20u);
  EXPECT_LE(set, 256u) << "only pages inside the DMA buffer";
  std::fill(bitmap.begin(), bitmap.end(), 0);
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), 0);
  EXPECT_EQ(std::count(bitmap.begin(), bitmap.end(), 0u), 256) << "a report clears the log";
  alignas(8) uint8_t stop[8] = {};
  reinterpret_cast<vfio_device_feature*>(stop)->argsz = 8;
  reinterpret_cast<vfio_device_feature*>(stop)->flags =
      VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP;
  ASSERT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, stop), 0);
  EXPECT_EQ(fe.ioctl(fe.device_fd(), VFIO_DEVICE_FEATURE, raw), -EINVAL) << "not started";
}

}  // namespace
}  // namespace mdevsim::vfio
