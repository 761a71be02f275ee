// The guest driver's workloads: reads, several patterns at once, and resident
// VRAM from the device's configuration.
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/gpu/gpu_device.h"
#include "mdevsim/models/memory/missing_pages.h"
#include "mdevsim/models/memory/page_store.h"
#include "mdevsim/models/workload/workload_driver.h"

namespace mdevsim::models {
namespace {

using sc_core::SC_MS;
using sc_core::sc_time;

constexpr uint32_t kPage = 64 * 1024;
constexpr double kGiBs = 1024.0 * 1024 * 1024;

DeviceConfig resident_device(bool loaded = true) {
  DeviceConfig c;
  c.vram_bytes = uint64_t{4} << 30;  // 65536 pages
  c.page_size = kPage;
  c.contexts = 8;
  c.dma_buffer_bytes = 4 << 20;
  c.resident = {{"weights", 0, 49152}, {"kv_cache", 49152, 4096}};
  c.resident_loaded = loaded;
  c.content_seed = 11;
  return c;
}

PatternSpec reads_over(uint64_t first, uint64_t pages, double rate) {
  PatternSpec p;
  p.kind = PatternKind::kUniform;
  p.region_first_page = first;
  p.region_pages = pages;
  p.read_rate_bytes_per_s = rate;
  return p;
}

TEST(WorkloadDriver, ResidentVramHoldsContentAndADestinationStartsEmpty) {
  GpuDevice src("src", resident_device()), dst("dst", resident_device(false));
  EXPECT_EQ(src.vram.store().touched_pages(), 49152u + 4096u);
  EXPECT_NE(src.vram.token(0), 0u);
  EXPECT_NE(src.vram.token(53247), 0u);
  EXPECT_EQ(src.vram.token(53248), 0u) << "beyond the regions: empty";
  EXPECT_EQ(dst.vram.store().touched_pages(), 0u);
  EXPECT_EQ(dst.vram.store().resident_token(7), src.vram.token(7))
      << "both sides know the content, so arriving pages stay bits";
  EXPECT_GT(src.full_image_bytes(), uint64_t{53248} * kPage) << "the image carries the weights";
}

TEST(WorkloadDriver, ReadsTakeEngineTimeButNeverChangeOrDirtyVram) {
  GpuDevice dev("dev", resident_device());
  WorkloadSpec w;
  w.vram = reads_over(0, 49152, 2 * kGiBs);
  WorkloadDriver drv("drv", dev, w, 3);
  ASSERT_EQ(drv.streams().size(), 2u) << "an empty write stream, then the reads";
  const uint64_t before = dev.vram.store().content_hash();
  dev.vram.store().start_tracking();
  sc_core::sc_start(sc_time(500, SC_MS));
  EXPECT_EQ(dev.vram.store().content_hash(), before);
  EXPECT_EQ(dev.vram.store().dirty().count(), 0u);
  EXPECT_EQ(dev.vram.store().writes(), 0u);
  const double expected = 0.5 * 2 * kGiBs / kPage;  // 16384 page reads
  EXPECT_NEAR(static_cast<double>(dev.engine_pages_done()), expected, 0.02 * expected);
  EXPECT_EQ(drv.state().submitted_writes, 0u);
  ASSERT_EQ(drv.state().submitted_streams.size(), 1u);
  EXPECT_NEAR(static_cast<double>(drv.state().submitted_streams[0]), expected, 0.02 * expected);
}

TEST(WorkloadDriver, ConcurrentPatternsEachDeliverTheirRate) {
  GpuDevice dev("dev", resident_device());
  WorkloadSpec w;
  w.vram.kind = PatternKind::kHotset;
  w.vram.rate_bytes_per_s = 1 * kGiBs;
  PatternSpec kv;
  kv.kind = PatternKind::kStreaming;
  kv.region_first_page = 49152;
  kv.region_pages = 4096;
  kv.rate_bytes_per_s = 0.25 * kGiBs;
  w.concurrent = {kv, reads_over(0, 49152, 4 * kGiBs)};
  WorkloadDriver drv("drv", dev, w, 9);
  ASSERT_EQ(drv.streams().size(), 4u);
  dev.vram.store().start_tracking();
  sc_core::sc_start(sc_time(1, sc_core::SC_SEC));
  const double writes = (1 + 0.25) * kGiBs / kPage, reads = 4 * kGiBs / kPage;
  EXPECT_NEAR(static_cast<double>(dev.vram.store().writes()), writes, 0.02 * writes);
  EXPECT_NEAR(static_cast<double>(dev.engine_pages_done()), writes + reads,
              0.02 * (writes + reads));
  // The KV cache appends sweep its region: 4096 pages written in 1 s at 4096/s.
  uint64_t kv_dirty = 0;
  for (uint64_t p = 49152; p < 53248; ++p) kv_dirty += dev.vram.store().dirty().test(p);
  EXPECT_GT(kv_dirty, 4000u);
  EXPECT_EQ(drv.backlog(), 0u);
}

TEST(WorkloadDriver, APostCopyReadOfAMissingPageFaultsAndStallsLikeAWrite) {
  GpuDevice dev("dev", resident_device(false));
  WorkloadSpec w;
  w.vram = reads_over(100, 4, 1 * kGiBs);  // four weight pages, read over and over
  WorkloadDriver drv("drv", dev, w, 5);
  dev.vram.set_missing({100, 101, 102, 103});
  const uint64_t content = dev.vram.store().resident_token(101);
  sc_core::sc_spawn([&] {
    sc_core::wait(sc_time(20, SC_MS));
    for (uint64_t p = 100; p < 104; ++p) dev.vram.place_page(p, dev.vram.store().resident_token(p));
  });
  sc_core::sc_start(sc_time(10, SC_MS));
  EXPECT_GE(dev.vram.faults(), 1u) << "the first read faulted";
  EXPECT_EQ(dev.engine_pages_done(), 0u) << "and the engine waits for the page";
  const auto faulted = dev.vram.take_faults();
  ASSERT_FALSE(faulted.empty());
  EXPECT_GE(faulted.front(), 100u);
  EXPECT_LT(faulted.front(), 104u);
  sc_core::sc_start(sc_time(40, SC_MS));
  EXPECT_EQ(dev.vram.missing_count(), 0u);
  EXPECT_GT(dev.engine_pages_done(), 0u) << "the reads go on once the pages are there";
  ASSERT_FALSE(dev.vram.stalls().empty());
  EXPECT_GE(dev.vram.stalls().front(), 0.010) << "stalled from the fault until the placement";
  EXPECT_EQ(dev.vram.token(101), content) << "reading did not change the page";
  EXPECT_EQ(dev.vram.store().writes(), 0u);
}

// Guest RAM for the DMA engine, with post-copy missing pages (option P2).
class FaultingGuestMemory : public GuestMemory {
 public:
  explicit FaultingGuestMemory(uint64_t salt) : store(64 << 20, 4096) {
    store.set_content_salt(salt);
    store.make_resident(0, store.page_count());
  }
  void dma_write_page(uint64_t gpa_page, uint64_t value) override {
    missing.fill(gpa_page);
    store.write_untracked(gpa_page, value);
  }
  uint64_t dma_read_page(uint64_t gpa_page) const override { return store.token(gpa_page); }
  void dma_touch_page(uint64_t gpa_page) override { missing.touch(gpa_page); }
  bool dma_may_fault() const override { return missing.count() > 0; }
  PageStore store;
  MissingPages missing;
};

WorkloadSpec uploads(double rate) {
  WorkloadSpec w;
  w.vram.kind = PatternKind::kStreaming;
  w.vram.region_first_page = 60000;
  w.vram.region_pages = 64;
  w.dma_read_rate_bytes_per_s = rate;
  return w;
}

TEST(WorkloadDriver, UploadsReadTheDmaBufferIntoVramAtTheirRate) {
  DeviceConfig c = resident_device();
  GpuDevice a("a", c), b("b", c);
  FaultingGuestMemory ga(1), gb(2);  // the same device, other guest content
  a.attach_guest_memory(&ga);
  b.attach_guest_memory(&gb);
  WorkloadDriver da("da", a, uploads(64 << 20), 4), db("db", b, uploads(64 << 20), 4);
  const uint64_t before = a.vram.store().content_hash();
  ASSERT_EQ(before, b.vram.store().content_hash());
  sc_core::sc_start(sc_time(100, SC_MS));
  const double pages = 0.1 * (64 << 20) / 4096;  // 1638 guest pages read
  EXPECT_NEAR(static_cast<double>(a.dma.state().pages_done), pages, 0.02 * pages);
  EXPECT_NEAR(static_cast<double>(da.state().submitted_uploads), pages, 0.02 * pages);
  EXPECT_EQ(ga.store.writes(), 0u) << "an upload does not write guest RAM";
  EXPECT_NE(a.vram.store().content_hash(), before) << "it writes VRAM";
  EXPECT_NE(a.vram.store().content_hash(), b.vram.store().content_hash())
      << "with what the guest's pages hold";
  for (uint64_t p = 0; p < 60000; p += 997) ASSERT_EQ(a.vram.token(p), b.vram.token(p)) << p;
}

TEST(WorkloadDriver, APostCopyDmaReadOfAMissingGuestPageFaultsAndStallsTheDevice) {
  GpuDevice dev("dev", resident_device());
  FaultingGuestMemory guest(3);
  dev.attach_guest_memory(&guest);
  WorkloadSpec w = uploads(64 << 20);
  w.concurrent = {reads_over(0, 1024, 1 * kGiBs)};  // compute work beside the uploads
  WorkloadDriver drv("drv", dev, w, 6);
  const uint64_t buffer = dev.dma.buffer_first_page();
  std::vector<uint64_t> missing;
  for (uint64_t p = buffer; p < buffer + 16; ++p) missing.push_back(p);
  guest.missing.reset(guest.store.page_count(), missing);
  sc_core::sc_spawn([&] {
    sc_core::wait(sc_time(30, SC_MS));
    for (uint64_t p : missing) guest.missing.fill(p);  // the VMM placed them
  });
  sc_core::sc_start(sc_time(20, SC_MS));
  EXPECT_EQ(guest.missing.faults(), 1u) << "the first upload page faulted in the IOMMU";
  EXPECT_EQ(guest.missing.take_faults(), std::vector<uint64_t>{buffer});
  EXPECT_EQ(dev.dma.state().pages_done, 0u);
  const uint64_t stalled = dev.engine_pages_done();
  sc_core::sc_start(sc_time(1, SC_MS));
  EXPECT_EQ(dev.engine_pages_done(), stalled) << "the whole device waits: one process sequences it";
  sc_core::sc_start(sc_time(30, SC_MS));
  EXPECT_GT(dev.dma.state().pages_done, 16u) << "uploads go on once the pages are there";
  ASSERT_FALSE(guest.missing.stalls().empty());
  EXPECT_GE(guest.missing.stalls().front(), 0.020);
}

TEST(WorkloadDriver, AReadOnlyCommandMigratesAsDataAndADmaReadIsRefused) {
  Command c;
  c.engine = EngineId::kCompute;
  c.read_only = true;
  c.count = 2;
  c.key = 99;
  c.pages[0] = 4;
  c.pages[1] = 8;
  StateWriter w;
  c.save(w);
  const auto bytes = w.take();
  StateReader r(bytes);
  EXPECT_EQ(Command::load(r, 16), c);
  // A writing command keeps the engine byte it always had.
  Command plain = c;
  plain.read_only = false;
  StateWriter pw;
  plain.save(pw);
  EXPECT_EQ(pw.take()[0], static_cast<uint8_t>(EngineId::kCompute));
  Command dma = c;
  dma.engine = EngineId::kDma;
  StateWriter dw;
  dma.save(dw);
  const auto dbytes = dw.take();
  StateReader dr(dbytes);
  EXPECT_THROW(Command::load(dr, 16), StateFormatError);
  // An upload is a DMA command, and only that.
  Command up = plain;
  up.engine = EngineId::kDma;
  up.from_guest = true;
  StateWriter uw;
  up.save(uw);
  const auto ubytes = uw.take();
  StateReader ur(ubytes);
  EXPECT_EQ(Command::load(ur, 16), up);
  Command bad = plain;
  bad.from_guest = true;
  StateWriter bw;
  bad.save(bw);
  const auto bbytes = bw.take();
  StateReader br(bbytes);
  EXPECT_THROW(Command::load(br, 16), StateFormatError);
}

}  // namespace
}  // namespace mdevsim::models
