#include <gtest/gtest.h>

#include "mdevsim/models/gpu/bar0_registers.h"

namespace mdevsim::models {
namespace {

TEST(Bar0Registers, ResetValuesComeFromTheTable) {
  Bar0Registers regs("bar0", 4);
  for (const auto& r : kGlobalRegisters) {
    uint32_t v = 0;
    ASSERT_TRUE(regs.guest_read(r.offset, v)) << r.name;
    EXPECT_EQ(v, r.reset) << r.name;
  }
  uint32_t size = 0;
  ASSERT_TRUE(regs.guest_read(kContextBase + 3 * kContextStride + 0x08, size));
  EXPECT_EQ(size, kRingEntries);
}

TEST(Bar0Registers, AccessRulesReadOnlyWriteOneToClearAndUnmapped) {
  Bar0Registers regs("bar0", 2);
  uint32_t v = 0;
  regs.guest_write(0x000, 0x1234);  // DEVICE_ID is read-only
  regs.guest_read(0x000, v);
  EXPECT_EQ(v, kGlobalRegisters[kDeviceId].reset);
  regs.set(kIntrStatus, 0b111);
  regs.guest_write(0x010, 0b010);  // W1C clears only the written bit
  EXPECT_EQ(regs.get(kIntrStatus), 0b101u);
  regs.guest_write(kContextBase + kContextStride + 0x0c, 7);  // RPTR is the device's
  EXPECT_EQ(regs.ctx(1, kRptr), 0u);
  uint32_t doorbells = 0;
  regs.on_doorbell = [&](uint32_t ctx) { doorbells += ctx + 1; };
  regs.guest_write(kContextBase + kContextStride + 0x10, 3);
  EXPECT_EQ(regs.ctx(1, kWptr), 3u);
  EXPECT_EQ(doorbells, 2u);
  EXPECT_FALSE(regs.guest_read(0x020, v)) << "no register there";
  EXPECT_FALSE(regs.guest_read(kContextBase + 2 * kContextStride, v)) << "only 2 contexts";
  EXPECT_FALSE(regs.guest_write(0x002, 1)) << "unaligned";
  EXPECT_EQ(regs.name_at(kContextBase + kContextStride + 0x10), "ctx[1].WPTR");
}

TEST(Bar0Registers, SaveAndLoadRoundTripAndRejectBadPointers) {
  Bar0Registers a("a", 3), b("b", 3);
  a.set_ctx(2, kWptr, 9);
  a.set_ctx(2, kPriority, 4);
  StateWriter w;
  a.save(w);
  StateReader r(w.data());
  b.load_state(b.load(r));
  EXPECT_EQ(a.state(), b.state());
  auto bad = w.data();
  // Corrupt ctx[2].RPTR (beyond the ring).
  const size_t off = 8 + 4 * (kGlobalRegCount + 2 * kContextRegCount + kRptr);
  bad[off] = 200;
  StateReader rb(bad);
  EXPECT_THROW(b.load(rb), StateFormatError);
  StateReader rs(std::span(w.data()).first(20));
  EXPECT_THROW(b.load(rs), StateFormatError);
}

}  // namespace
}  // namespace mdevsim::models
