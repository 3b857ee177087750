#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

namespace sluice {
namespace {

TEST(JsonTextTest, NumbersAreTheShortestTextThatReadsBack) {
  boost::json::object doc{{"confidence", 96.3}, {"duration_s", 0.0},      {"share", 0.101},
                          {"tiny", 1e-7},       {"big", 12345678.5},      {"count", 3},
                          {"negative", -2.5},   {"unsigned", uint64_t{7}}};
  EXPECT_EQ(JsonText(doc),
            R"({"confidence":96.3,"duration_s":0,"share":0.101,"tiny":1e-07,"big":12345678.5,)"
            R"("count":3,"negative":-2.5,"unsigned":7})");
  for (double number : {96.3, 0.1 + 0.2, 1.0 / 3, 6.02214076e23, -0.0}) {
    EXPECT_EQ(boost::json::parse(JsonText(number)).to_number<double>(), number) << number;
  }
}

TEST(JsonTextTest, StringsArraysAndNonFiniteNumbers) {
  boost::json::value doc = boost::json::object{
      {"text", "a \"quoted\"\nline"},
      {"list", boost::json::array{true, nullptr, 1.5}},
      {"nan", std::numeric_limits<double>::quiet_NaN()},
      {"inf", std::numeric_limits<double>::infinity()},
  };
  std::string text = JsonText(doc);
  EXPECT_EQ(text, R"({"text":"a \"quoted\"\nline","list":[true,null,1.5],"nan":null,"inf":null})");
  EXPECT_EQ(boost::json::parse(text).at("text").as_string(), "a \"quoted\"\nline");
}

}  // namespace
}  // namespace sluice
