#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
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

// The journal's replay and the step keys depend on these being Boost's text byte for byte.
TEST(JsonTextTest, SerializedTextAndStringsAreBoostsByteForByte) {
  std::string every_byte;
  for (int c = 1; c < 256; ++c) every_byte += static_cast<char>(c);
  std::string long_text(5000, 'x');  // past the writer's buffer: written in several reads
  long_text[2500] = '\n';
  for (const std::string& text : {std::string(), std::string("plain"), every_byte, long_text,
                                  std::string("caf\xc3\xa9 \"q\" \\ \x7f")}) {
    std::string out = "prefix", expected = "prefix";
    AppendJsonString(out, text);
    expected += boost::json::serialize(boost::json::string_view(text));
    EXPECT_EQ(out, expected);
  }
  boost::json::value doc = boost::json::object{
      {"double", 96.3},
      {"zero", 0.0},
      {"int", -42},
      {"unsigned", uint64_t{18446744073709551615u}},
      {"flags", boost::json::array{true, false, nullptr}},
      {"nested", boost::json::object{{"long", long_text}, {"bytes", every_byte}}}};
  for (const boost::json::value& value :
       {doc, boost::json::value(1.5), boost::json::value("s"), boost::json::value()}) {
    std::string out = "[", expected = "[";
    AppendSerializedJson(out, value);
    expected += boost::json::serialize(value);
    EXPECT_EQ(out, expected);
  }
  std::string object_text;
  AppendSerializedJson(object_text, doc.as_object());
  EXPECT_EQ(object_text, boost::json::serialize(doc));
  EXPECT_EQ(SerializedJsonSize(doc.as_object()), object_text.size());
  // An object passed as such is written as the value holding it would be.
  EXPECT_EQ(JsonText(doc.as_object()), JsonText(doc));
  std::string appended = "x", expected = "x";
  AppendJsonText(appended, doc.as_object());
  expected += JsonText(doc);
  EXPECT_EQ(appended, expected);
}

}  // namespace
}  // namespace sluice
