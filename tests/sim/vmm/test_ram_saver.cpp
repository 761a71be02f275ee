// RamSaver's page set (sim/vmm/ram_saver.h): one bit per page with its
// count, checked against std::set on random operations.
#include <cstdint>
#include <set>

#include <gtest/gtest.h>

#include "vmm/ram_saver.h"

namespace {

using mdevsim::sim::vmm::PageSet;

TEST(PageSet, SetTakeAndNextFromAgreeWithASetOfPages) {
  constexpr uint64_t kPages = 64 * 9 + 13;  // a last word that is not full
  uint64_t x = 12345;
  auto next = [&] { return x = x * 6364136223846793005ULL + 1442695040888963407ULL; };
  PageSet bits(kPages);
  std::set<uint64_t> ref;
  for (int k = 0; k < 4000; ++k) {
    const uint64_t p = (next() >> 20) % (kPages + 5);  // some beyond the set
    switch ((next() >> 40) % 3) {
      case 0:
        if (p < kPages) {
          bits.set(p);
          ref.insert(p);
        }
        break;
      case 1:
        ASSERT_EQ(bits.take(p), ref.erase(p) == 1) << p;
        break;
      default: {
        const auto it = ref.lower_bound(p);
        ASSERT_EQ(bits.next_from(p), it == ref.end() ? PageSet::kNone : *it) << p;
      }
    }
    ASSERT_EQ(bits.test(p), ref.count(p) == 1) << p;
    ASSERT_EQ(bits.count(), ref.size());
  }
  std::set<uint64_t> walked;
  bits.for_each([&](uint64_t p) { walked.insert(p); });
  EXPECT_EQ(walked, ref);
  bits.clear();
  EXPECT_EQ(bits.count(), 0u);
  EXPECT_EQ(bits.next_from(0), PageSet::kNone);
  EXPECT_FALSE(bits.test(kPages + 100));
}

}  // namespace
