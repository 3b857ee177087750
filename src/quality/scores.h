// The measures sluice's quality corpus is scored with (bench/quality, `sluice eval`): words and
// characters for OCR and transcripts, pairs for near-duplicate groups, events and spans for
// video. Each compares what a method found with the truth the corpus was generated from.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::quality {

// The words of `text` as scores compare them: lower case, split at anything that is not a
// letter, a digit or '%' ("50% OFF!" -> {"50%", "off"}).
std::vector<std::string> ScoringWords(std::string_view text);

// Word-level edit distance over the truth's word count (0 when both are empty).
double WordErrorRate(std::string_view truth, std::string_view heard);
// Character-level edit distance between the two texts' scoring words joined by single spaces,
// over the truth's length: what a reader would have to retype.
double CharacterErrorRate(std::string_view truth, std::string_view read);
// Whether `needle` occurs as consecutive words of `haystack` (an empty needle never does).
bool ContainsRun(const std::vector<std::string>& haystack, const std::vector<std::string>& needle);

// Counts behind precision and recall: `matched` of `found` answers were right, out of `truth`.
struct MatchCounts {
  int64_t truth = 0;
  int64_t found = 0;
  int64_t matched = 0;
  double Precision() const;  // 1 when nothing was found
  double Recall() const;     // 1 when there was nothing to find
  double F1() const;
  MatchCounts& operator+=(const MatchCounts& other);
};

// Words matched as multisets: each truth word can be matched by one found word.
MatchCounts MatchWords(const std::vector<std::string>& truth,
                       const std::vector<std::string>& found);

// Pairs of items grouped together: `truth_group` names each item's true group (items alone in
// theirs included); `found_groups` lists what a method grouped (items it left alone may be
// absent). A found pair is matched when both items share a true group.
MatchCounts MatchPairs(const std::map<std::string, std::string>& truth_group,
                       const std::vector<std::vector<std::string>>& found_groups);

// Events at times (shot cuts in frames, or seconds) matched one to one, each within `tolerance`.
MatchCounts MatchEvents(const std::vector<double>& truth, const std::vector<double>& found,
                        double tolerance);

struct Span {
  double start = 0, end = 0;
};
// Spans matched one to one when both ends are within `tolerance`.
MatchCounts MatchSpans(const std::vector<Span>& truth, const std::vector<Span>& found,
                       double tolerance);

}  // namespace sluice::quality
