// The engines' timing and effects, against the analytic expectation: a page
// of work takes T = page bytes / engine bandwidth (the DMA engine: a guest
// page over an eighth of it). Page k of a command started at s is applied at
// s + k*T; the command completes (fence, interrupt) as its last page is
// applied, at s + (n-1)*T, and the engine takes the next command at s + n*T.
// DMA lands in guest memory through the TLM target.
#include <cstdint>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/common/rng.h"
#include "mdevsim/models/gpu/gpu_device.h"

namespace mdevsim::models {
namespace {

using sc_core::sc_time;
using sc_core::SC_US;

constexpr uint32_t kPage = 4096;
constexpr double kPageTimeS = 10e-6;  // chosen: 4 KiB at 409.6 MB/s

DeviceConfig timed_device() {
  DeviceConfig c;
  c.vram_bytes = 256 * kPage;
  c.page_size = kPage;
  c.contexts = 2;
  c.engine_bandwidth = kPage / kPageTimeS;
  c.dma_buffer_gpa = 64 * kPage;
  c.dma_buffer_bytes = 8 * kPage;
  c.guest_page_size = kPage;
  return c;
}

// Places `cmd` in context 0's ring and rings the doorbell, as a driver does.
void submit(GpuDevice& dev, const Command& cmd) {
  const uint32_t wptr = dev.registers.ctx(0, kWptr);
  dev.ring_slot(0, wptr) = cmd;
  ASSERT_TRUE(dev.mmio_write(kContextBase + kContextRegisters[kWptr].offset, wptr + 1));
}

Command pages_command(EngineId engine, uint32_t count, uint64_t first = 0) {
  Command c;
  c.engine = engine;
  c.count = count;
  c.key = 0x1234;
  for (uint32_t i = 0; i < count; ++i) c.pages[i] = first + i;
  return c;
}

class RecordingGuestMemory : public GuestMemory {
 public:
  void dma_write_page(uint64_t gpa_page, uint64_t value) override {
    writes.emplace_back(gpa_page, value);
  }
  std::vector<std::pair<uint64_t, uint64_t>> writes;
};

// A 1 us quantum: engines run at most 1 us ahead of the kernel, so what is
// observed at an instant is the analytic state within one quantum.
void fine_quantum() { tlm::tlm_global_quantum::instance().set(sc_time(1, SC_US)); }

TEST(Engines, ComputeCommandTakesPagesTimesPageBytesOverBandwidth) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  sc_core::sc_start(sc_time(1, SC_US));
  submit(dev, pages_command(EngineId::kCompute, 16));
  // Started at 1 us; the 16th page is applied at 1 + 15 x 10 = 151 us.
  sc_core::sc_start(sc_time(145, SC_US));  // t = 146 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 0u);
  EXPECT_EQ(dev.compute.state().pages_done, 15u);
  sc_core::sc_start(sc_time(10, SC_US));  // t = 156 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 1u);
  EXPECT_EQ(dev.compute.state().pages_done, 16u);
  EXPECT_EQ(dev.compute.state().commands_done, 1u);
  EXPECT_TRUE(dev.engines_idle());
  // Each page holds the command's value stream (what a kernel writes).
  for (uint32_t i = 0; i < 16; ++i) {
    PageStore expected(kPage, kPage);
    expected.write(0, stream_value(0x1234, i));
    EXPECT_EQ(dev.vram.token(i), expected.token(0)) << "page " << i;
  }
}

TEST(Engines, CommandsOnTheSameEngineRunBackToBack) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  sc_core::sc_start(sc_time(1, SC_US));
  submit(dev, pages_command(EngineId::kCompute, 4));
  submit(dev, pages_command(EngineId::kCompute, 6, 32));
  // The first ends at 1 + 4 x 10 = 41 us; the second starts then and
  // applies its 6th page at 41 + 5 x 10 = 91 us (at 81 us had it started
  // at the first one's fence).
  sc_core::sc_start(sc_time(85, SC_US));  // t = 86 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 1u);
  sc_core::sc_start(sc_time(10, SC_US));  // t = 96 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 2u);
  EXPECT_EQ(dev.compute.state().pages_done, 10u);
}

TEST(Engines, DmaPageTakesAGuestPageOverAnEighthOfTheBandwidth) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  RecordingGuestMemory guest;
  GuestMemoryTarget port("guest", guest, kPage);
  dev.bind_guest_memory(port);
  sc_core::sc_start(sc_time(1, SC_US));
  submit(dev, pages_command(EngineId::kDma, 3));
  // A guest page takes 4 KiB / (409.6 MB/s / 8) = 80 us: the third is
  // written at 1 + 2 x 80 = 161 us.
  sc_core::sc_start(sc_time(155, SC_US));  // t = 156 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 0u);
  EXPECT_EQ(guest.writes.size(), 2u);
  sc_core::sc_start(sc_time(10, SC_US));  // t = 166 us
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 1u);
  // Through the TLM target: the DMA buffer's first guest pages, in order,
  // each the mixed content of the VRAM page read (empty VRAM: token 0).
  ASSERT_EQ(guest.writes.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(guest.writes[i].first, 64 + i);
    EXPECT_EQ(guest.writes[i].second, mix64(dev.vram.token(i) ^ 0x1234));
  }
}

TEST(Engines, DmaWithoutGuestMemoryBoundWritesNothingButCompletes) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  sc_core::sc_start(sc_time(1, SC_US));
  submit(dev, pages_command(EngineId::kDma, 2));
  sc_core::sc_start(sc_time(200, SC_US));
  EXPECT_EQ(dev.registers.get(kFenceCompleted), 1u);
  EXPECT_EQ(dev.dma.state().dma_cursor, 2u);
}

TEST(Engines, CompletionLatchesTheEngineInterruptBitAndCountsUnmaskedOnes) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  dev.registers.set(kIntrMask, 1u << static_cast<uint32_t>(EngineId::kCopy));
  sc_core::sc_start(sc_time(1, SC_US));
  submit(dev, pages_command(EngineId::kCompute, 1));
  submit(dev, pages_command(EngineId::kCopy, 2, 8));
  sc_core::sc_start(sc_time(100, SC_US));
  EXPECT_EQ(dev.registers.get(kIntrStatus), 0b011u);  // compute and copy latched
  EXPECT_EQ(dev.registers.get(kIrqCount), 1u);        // only copy is unmasked
}

TEST(Engines, CopyPageIsTheNextListedPageFoldedWithTheKey) {
  fine_quantum();
  GpuDevice dev("dev", timed_device());
  dev.vram.write_page(11, 5);
  const uint64_t src_token = dev.vram.token(11);
  sc_core::sc_start(sc_time(1, SC_US));
  Command c = pages_command(EngineId::kCopy, 2, 10);  // pages 10, 11
  submit(dev, c);
  sc_core::sc_start(sc_time(15, SC_US));  // first page done at 11 us
  PageStore expected(kPage, kPage);
  expected.write(0, src_token ^ 0x1234);
  EXPECT_EQ(dev.vram.token(10), expected.token(0));
}

}  // namespace
}  // namespace mdevsim::models
