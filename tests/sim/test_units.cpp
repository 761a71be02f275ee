#include <gtest/gtest.h>

#include "mdevsim/sim/units.h"

namespace mdevsim::sim {
namespace {

TEST(Units, SizesIecAndSi) {
  EXPECT_EQ(parse_size("4GiB"), uint64_t{4} << 30);
  EXPECT_EQ(parse_size("64KiB"), 65536u);
  EXPECT_EQ(parse_size("1.5GB"), 1500000000u);
  EXPECT_EQ(parse_size("4096B"), 4096u);
  EXPECT_EQ(parse_size("2 MiB"), 2u << 20);
}

TEST(Units, RatesInBitsAndBytes) {
  EXPECT_DOUBLE_EQ(parse_rate("10Gbit/s"), 10e9 / 8);
  EXPECT_DOUBLE_EQ(parse_rate("500MiB/s"), 500.0 * 1048576);
  EXPECT_DOUBLE_EQ(parse_rate("2GB/s"), 2e9);
}

TEST(Units, Durations) {
  EXPECT_DOUBLE_EQ(parse_duration("300ms"), 0.3);
  EXPECT_DOUBLE_EQ(parse_duration("2s"), 2.0);
  EXPECT_DOUBLE_EQ(parse_duration("50us"), 50e-6);
  EXPECT_DOUBLE_EQ(parse_duration("1.5min"), 90.0);
}

TEST(Units, BadInputSaysWhatWasExpected) {
  auto message = [](auto fn, const char* text) {
    try {
      fn(text);
    } catch (const UnitError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(message(parse_size, "-4GiB").find("negative"), std::string::npos);
  EXPECT_NE(message(parse_size, "4GB/s").find("unknown unit 'GB/s'"), std::string::npos);
  EXPECT_NE(message(parse_size, "4").find("a unit is required"), std::string::npos);
  EXPECT_NE(message(parse_size, "GiB").find("must start with a number"), std::string::npos);
  EXPECT_NE(message(parse_size, "0.5B").find("whole number"), std::string::npos);
  EXPECT_NE(message(parse_rate, "10Gbps").find("example: \"10Gbit/s\""), std::string::npos);
  EXPECT_NE(message(parse_duration, "3 fortnights").find("unknown unit"), std::string::npos);
  EXPECT_NE(message(parse_size, "1e30TiB").find(""), std::string::npos);
  EXPECT_THROW(parse_size("99999999999TiB"), UnitError);
  EXPECT_THROW(parse_size("1.2.3GiB"), UnitError);
}

TEST(Units, ABareZeroNeedsNoUnit) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_rate("0"), 0.0);
  EXPECT_EQ(parse_duration("0"), 0.0);
  EXPECT_THROW(parse_duration("5"), UnitError) << "only zero is unit-free";
  EXPECT_THROW(parse_duration("00"), UnitError);
}

// Every rate shows in a unit where its digits are visible: 1bit/s is not "0 B/s".
TEST(Units, RatesPrintWithAUnitThatShowsThem) {
  EXPECT_EQ(format_rate(parse_rate("1bit/s")), "0.125 B/s");
  EXPECT_EQ(format_rate(0), "0 B/s");
  EXPECT_EQ(format_rate(999), "999 B/s");
  EXPECT_EQ(format_rate(parse_rate("12Kbit/s")), "1.50 KB/s");
  EXPECT_EQ(format_rate(parse_rate("10Gbit/s")), "1.25 GB/s");
  EXPECT_EQ(format_rate(parse_rate("16Tbit/s")), "2.00 TB/s");
  EXPECT_EQ(format_duration(1e-9), "1.0 ns");
  EXPECT_EQ(format_duration(250e-6), "250.0 us");
}

}  // namespace
}  // namespace mdevsim::sim
