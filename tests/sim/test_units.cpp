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

}  // namespace
}  // namespace mdevsim::sim
