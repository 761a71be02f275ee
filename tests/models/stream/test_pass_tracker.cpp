// Pre-copy pass accounting (models/stream/src/pass_tracker.cpp) over a plain
// page store: the first pass is every touched page, later passes are what
// was dirtied meanwhile, heat counts re-dirtied passes.
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/stream/pass_tracker.h"

namespace mdevsim::models {
namespace {

constexpr uint32_t kPage = 4096;

std::vector<uint64_t> drain(PassTracker& t, bool final = false, size_t max = 100) {
  std::vector<uint64_t> out;
  uint64_t p;
  while (out.size() < max && t.next(p)) {
    t.sent(p, final);
    out.push_back(p);
  }
  return out;
}

TEST(PassTracker, FirstPassIsEveryTouchedPageAscendingAndStartsTracking) {
  PageStore m(200 * kPage, kPage);
  for (uint64_t p : {130, 3, 64, 7}) m.write(p, p + 1);
  EXPECT_FALSE(m.tracking());
  {
    PassTracker t(m);
    EXPECT_TRUE(m.tracking());
    EXPECT_TRUE(t.initial());
    EXPECT_EQ(t.pass_pages(), 4u);
    EXPECT_EQ(t.dirty_pages(), 0u) << "writes before the stream are the first pass, not dirt";
    EXPECT_EQ(drain(t), (std::vector<uint64_t>{3, 7, 64, 130}));
    EXPECT_EQ(t.pass_pages(), 0u);
    EXPECT_TRUE(t.initial()) << "nothing re-dirtied: still the first pass";
  }
  EXPECT_FALSE(m.tracking()) << "the tracker stops dirty tracking when it goes";
}

TEST(PassTracker, PagesWrittenDuringAPassFormTheNextOneEvenIfAlreadySent) {
  PageStore m(64 * kPage, kPage);
  for (uint64_t p : {1, 3, 5}) m.write(p, 9);
  PassTracker t(m);
  uint64_t p;
  ASSERT_TRUE(t.next(p));
  EXPECT_EQ(p, 1u);
  t.sent(p, false);
  m.write(1, 10);  // already sent in this pass: dirty for the next
  m.write(2, 10);  // never touched before
  EXPECT_EQ(t.pass_pages(), 2u);
  EXPECT_EQ(t.dirty_pages(), 2u);
  EXPECT_EQ(t.union_pages(), 4u) << "3, 5 left in the pass; 1, 2 dirty";
  EXPECT_EQ(drain(t, false, 2), (std::vector<uint64_t>{3, 5}));
  EXPECT_TRUE(t.initial());
  EXPECT_EQ(drain(t), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(t.initial());
  ASSERT_EQ(t.heat().size(), 64u);
  EXPECT_EQ(t.heat()[1], 1);
  EXPECT_EQ(t.heat()[2], 1);
  EXPECT_EQ(t.heat()[3], 0);
}

TEST(PassTracker, HeatCountsPassesAPageWasReDirtiedIn) {
  PageStore m(16 * kPage, kPage);
  m.write(4, 1);
  m.write(6, 1);
  PassTracker t(m);
  drain(t);
  for (int pass = 0; pass < 3; ++pass) {
    m.write(4, 2 + pass);
    if (pass == 0) m.write(6, 7);
    drain(t);
  }
  EXPECT_EQ(t.heat()[4], 3);
  EXPECT_EQ(t.heat()[6], 1);
}

TEST(PassTracker, AFinalSendClearsTheDirtyBitTooSoNothingIsSentTwice) {
  PageStore m(16 * kPage, kPage);
  m.write(2, 1);
  m.write(8, 1);
  PassTracker t(m);
  m.write(8, 2);  // dirty while still in the first pass
  // Stopped device: sending 8 now sends its final content once.
  EXPECT_EQ(drain(t, true), (std::vector<uint64_t>{2, 8}));
  EXPECT_EQ(t.dirty_pages(), 0u);
  uint64_t p;
  EXPECT_FALSE(t.next(p));
}

TEST(PassTracker, TakeUnsentIsThePassAndTheDirtSetOnceAscending) {
  PageStore m(300 * kPage, kPage);
  for (uint64_t p : {10, 70, 200}) m.write(p, 1);
  PassTracker t(m);
  uint64_t p;
  ASSERT_TRUE(t.next(p));
  t.sent(p, false);  // 10
  m.write(70, 2);    // in the pass and dirty: listed once
  m.write(10, 2);
  m.write(299, 2);
  EXPECT_EQ(t.take_unsent(), (std::vector<uint64_t>{10, 70, 200, 299}));
  EXPECT_EQ(t.union_pages(), 0u);
  EXPECT_FALSE(t.next(p));
}

}  // namespace
}  // namespace mdevsim::models
