// The post-copy queue (models/stream/src/postcopy_queue.cpp): requested and
// pushed pages share one FIFO, a page is queued at most once at a time and
// sent at most once, the push order is the missing list's or hottest first.
#include <vector>

#include <gtest/gtest.h>

#include "mdevsim/models/stream/postcopy_queue.h"

namespace mdevsim::models {
namespace {

std::vector<uint64_t> pop_all(PostcopyQueue& q) {
  std::vector<uint64_t> out;
  for (uint64_t p; q.pop(p);) out.push_back(p);
  return out;
}

TEST(PostcopyQueue, RequestsQueueOnlyUnsentPagesInOrderAndOnce) {
  PostcopyQueue q;
  q.start(16, {3, 7, 9, 12});
  EXPECT_EQ(q.unsent(), 4u);
  EXPECT_EQ(q.missing(), (std::vector<uint64_t>{3, 7, 9, 12}));
  EXPECT_EQ(q.queue(7, 3), 2u) << "7 and 9 of 7..9";
  EXPECT_EQ(q.queue(9, 1), 0u) << "already queued";
  EXPECT_EQ(q.queue(12, 1), 1u);
  EXPECT_EQ(pop_all(q), (std::vector<uint64_t>{7, 9, 12}));
  EXPECT_EQ(q.unsent(), 1u);
  EXPECT_EQ(q.queue(7, 1), 0u) << "sent pages are never queued again";
  EXPECT_EQ(q.queue(14, 100), 0u) << "the range is cut at the memory's end";
  EXPECT_TRUE(q.queue_empty());
}

TEST(PostcopyQueue, BackgroundPushFollowsTheMissingListAndSkipsWhatIsQueuedOrSent) {
  PostcopyQueue q;
  q.start(16, {3, 7, 9, 12});
  EXPECT_EQ(q.queue(9, 1), 1u);  // a fault first
  EXPECT_EQ(q.queue_background(2, false, {}), 2u) << "3 and 7";
  EXPECT_EQ(pop_all(q), (std::vector<uint64_t>{9, 3, 7}));
  EXPECT_EQ(q.queue_background(10, false, {}), 1u) << "12 left; 9 was sent";
  EXPECT_EQ(pop_all(q), (std::vector<uint64_t>{12}));
  EXPECT_EQ(q.unsent(), 0u);
  EXPECT_EQ(q.queue_background(10, false, {}), 0u);
}

TEST(PostcopyQueue, HotFirstPushesTheHottestPagesFirstTiesInListOrder) {
  PostcopyQueue q;
  q.start(16, {3, 7, 9, 12});
  std::vector<uint8_t> heat(16, 0);
  heat[12] = 3;
  heat[3] = 1;
  EXPECT_EQ(q.queue_background(10, true, heat), 4u);
  EXPECT_EQ(pop_all(q), (std::vector<uint64_t>{12, 3, 7, 9}));
}

TEST(PostcopyQueue, HotFirstWithoutHeatKeepsTheListOrder) {
  PostcopyQueue q;
  q.start(16, {5, 1});
  EXPECT_EQ(q.queue_background(10, true, {}), 2u);
  EXPECT_EQ(pop_all(q), (std::vector<uint64_t>{5, 1}));
}

TEST(PostcopyQueue, ARepeatedRequestQueuesAPageOnceAndASentPageNever) {
  PostcopyQueue q;
  q.start(8, {2});
  EXPECT_EQ(q.queue(2, 1), 1u);
  EXPECT_EQ(q.queue(2, 1), 0u);
  uint64_t p;
  ASSERT_TRUE(q.pop(p));
  EXPECT_EQ(p, 2u);
  EXPECT_EQ(q.queue(2, 1), 0u);
  EXPECT_FALSE(q.pop(p));
}

}  // namespace
}  // namespace mdevsim::models
