#include "common/strings.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(StringsTest, StrCatMixesTypes) {
  EXPECT_EQ(StrCat("a", std::string("b"), std::string_view("c"), 'd', 42, int64_t{-7}), "abcd42-7");
}

TEST(StringsTest, TrimLowerPrefixSplit) {
  EXPECT_EQ(Trim("  x y \r\n"), "x y");
  EXPECT_EQ(ToLower("AbC"), "abc");
  std::string_view s = "bytes=1-";
  EXPECT_TRUE(ConsumePrefix(s, "bytes="));
  EXPECT_EQ(s, "1-");
  EXPECT_FALSE(ConsumePrefix(s, "x"));
  EXPECT_EQ(Split("a,,b", ",").size(), 3u);
}

TEST(StringsTest, ParseIntIsWholeString) {
  int64_t v = 0;
  EXPECT_TRUE(ParseInt("-12", v));
  EXPECT_EQ(v, -12);
  EXPECT_FALSE(ParseInt("12x", v));
  EXPECT_FALSE(ParseInt("", v));
  EXPECT_FALSE(ParseInt("99999999999999999999", v));
}

TEST(StringsTest, ByteSizes) {
  int64_t v = 0;
  EXPECT_TRUE(ParseByteSize("1234", v));
  EXPECT_EQ(v, 1234);
  EXPECT_TRUE(ParseByteSize("500MB", v));
  EXPECT_EQ(v, 500'000'000);
  EXPECT_TRUE(ParseByteSize("2GiB", v));
  EXPECT_EQ(v, int64_t{2} << 30);
  EXPECT_TRUE(ParseByteSize("10k", v));
  EXPECT_EQ(v, 10'000);
  EXPECT_FALSE(ParseByteSize("lots", v));
  EXPECT_FALSE(ParseByteSize("5 parsecs", v));
  EXPECT_FALSE(ParseByteSize("99999999999TiB", v));
}

}  // namespace
}  // namespace sluice
