#include "quality/scores.h"

#include <gtest/gtest.h>

namespace sluice::quality {
namespace {

using Words = std::vector<std::string>;

TEST(ScoresTest, WordsAreLowerCaseAndSplitAtPunctuation) {
  EXPECT_EQ(ScoringWords("50% OFF! Shop-now\n  Today"),
            (Words{"50%", "off", "shop", "now", "today"}));
  EXPECT_TRUE(ScoringWords(" ,.; ").empty());
}

TEST(ScoresTest, ErrorRatesCountEditsOverTheTruth) {
  EXPECT_DOUBLE_EQ(WordErrorRate("the cat sat", "the cat sat"), 0);
  EXPECT_DOUBLE_EQ(WordErrorRate("the cat sat", "the bat sat down"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(WordErrorRate("", ""), 0);
  EXPECT_DOUBLE_EQ(WordErrorRate("", "noise"), 1);
  // "best seller" -> "best seleer": one substitution in 11 characters.
  EXPECT_DOUBLE_EQ(CharacterErrorRate("BEST SELLER", "best seleer"), 1.0 / 11);
  EXPECT_DOUBLE_EQ(CharacterErrorRate("BEST SELLER", ""), 1);
}

TEST(ScoresTest, AHeadlineMustAppearAsConsecutiveWords) {
  Words read = ScoringWords("Norvak\nWINTER COLLECTION\nfree returns");
  EXPECT_TRUE(ContainsRun(read, ScoringWords("Winter Collection")));
  EXPECT_FALSE(ContainsRun(read, ScoringWords("winter free")));
  EXPECT_FALSE(ContainsRun(read, {}));
}

TEST(ScoresTest, WordsMatchAsMultisets) {
  MatchCounts counts = MatchWords({"sale", "sale", "now"}, {"sale", "now", "now", "xyz"});
  EXPECT_EQ(counts.truth, 3);
  EXPECT_EQ(counts.found, 4);
  EXPECT_EQ(counts.matched, 2);
  EXPECT_DOUBLE_EQ(counts.Recall(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(counts.Precision(), 0.5);
  EXPECT_DOUBLE_EQ(MatchCounts{}.F1(), 1);  // nothing to find, nothing found
}

TEST(ScoresTest, PairsCountWithinTrueGroups) {
  std::map<std::string, std::string> truth = {{"a1", "a"}, {"a2", "a"}, {"a3", "a"},
                                              {"b1", "b"}, {"b2", "b"}, {"c", "c"}};
  // Truth pairs: 3 in a, 1 in b. Found: a1-a2 right, a3 alone, b1-c wrong (and b2 left out).
  MatchCounts pairs = MatchPairs(truth, {{"a1", "a2"}, {"b1", "c"}});
  EXPECT_EQ(pairs.truth, 4);
  EXPECT_EQ(pairs.found, 2);
  EXPECT_EQ(pairs.matched, 1);
  // One group of everything: every true pair found, most found pairs wrong.
  MatchCounts all = MatchPairs(truth, {{"a1", "a2", "a3", "b1", "b2", "c"}});
  EXPECT_EQ(all.found, 15);
  EXPECT_EQ(all.matched, 4);
  EXPECT_DOUBLE_EQ(all.Recall(), 1);
}

TEST(ScoresTest, EventsAndSpansMatchOneToOneWithinTolerance) {
  MatchCounts cuts = MatchEvents({75, 150, 225, 300}, {74, 76, 151, 230}, 1);
  EXPECT_EQ(cuts.matched, 2);  // 74 or 76 for 75 (one only), 151 for 150; 230 is too far
  EXPECT_DOUBLE_EQ(cuts.F1(), 0.5);
  MatchCounts spans = MatchSpans({{3.0, 6.0}, {4.6, 7.6}}, {{3.05, 5.95}, {4.6, 7.8}}, 0.1);
  EXPECT_EQ(spans.matched, 1);
}

}  // namespace
}  // namespace sluice::quality
