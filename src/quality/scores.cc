#include "quality/scores.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/strings.h"

namespace sluice::quality {
namespace {

double Ratio(int64_t part, int64_t whole, double when_empty) {
  return whole == 0 ? when_empty : static_cast<double>(part) / static_cast<double>(whole);
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out.push_back(' ');
    out += word;
  }
  return out;
}

}  // namespace

std::vector<std::string> ScoringWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '%') {
      word.push_back(static_cast<char>(std::tolower(u)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

double WordErrorRate(std::string_view truth, std::string_view heard) {
  std::vector<std::string> a = ScoringWords(truth), b = ScoringWords(heard);
  return Ratio(static_cast<int64_t>(EditDistance(a, b)), static_cast<int64_t>(a.size()),
               b.empty() ? 0 : 1);
}

double CharacterErrorRate(std::string_view truth, std::string_view read) {
  std::string a = Joined(ScoringWords(truth)), b = Joined(ScoringWords(read));
  return Ratio(static_cast<int64_t>(EditDistance(a, b)), static_cast<int64_t>(a.size()),
               b.empty() ? 0 : 1);
}

bool ContainsRun(const std::vector<std::string>& haystack, const std::vector<std::string>& needle) {
  if (needle.empty()) return false;
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

double MatchCounts::Precision() const { return Ratio(matched, found, 1); }
double MatchCounts::Recall() const { return Ratio(matched, truth, 1); }
double MatchCounts::F1() const {
  double p = Precision(), r = Recall();
  return p + r == 0 ? 0 : 2 * p * r / (p + r);
}
MatchCounts& MatchCounts::operator+=(const MatchCounts& other) {
  truth += other.truth;
  found += other.found;
  matched += other.matched;
  return *this;
}

MatchCounts MatchWords(const std::vector<std::string>& truth,
                       const std::vector<std::string>& found) {
  std::map<std::string_view, int64_t> wanted;
  for (const std::string& word : truth) ++wanted[word];
  MatchCounts counts{.truth = static_cast<int64_t>(truth.size()),
                     .found = static_cast<int64_t>(found.size())};
  for (const std::string& word : found) {
    auto it = wanted.find(word);
    if (it != wanted.end() && it->second > 0) {
      --it->second;
      ++counts.matched;
    }
  }
  return counts;
}

MatchCounts MatchPairs(const std::map<std::string, std::string>& truth_group,
                       const std::vector<std::vector<std::string>>& found_groups) {
  MatchCounts counts;
  std::map<std::string, int64_t> sizes;
  for (const auto& [item, group] : truth_group) ++sizes[group];
  for (const auto& [group, size] : sizes) counts.truth += size * (size - 1) / 2;
  for (const std::vector<std::string>& group : found_groups) {
    for (size_t a = 0; a < group.size(); ++a) {
      for (size_t b = a + 1; b < group.size(); ++b) {
        ++counts.found;
        auto first = truth_group.find(group[a]), second = truth_group.find(group[b]);
        if (first != truth_group.end() && second != truth_group.end() &&
            first->second == second->second)
          ++counts.matched;
      }
    }
  }
  return counts;
}

namespace {
// Greedy one-to-one matching in the order of closeness: each truth event takes the nearest
// unused found event within tolerance.
template <class T, class Distance>
MatchCounts MatchOneToOne(const std::vector<T>& truth, const std::vector<T>& found,
                          double tolerance, Distance distance) {
  struct Candidate {
    double distance;
    size_t truth, found;
  };
  std::vector<Candidate> candidates;
  for (size_t t = 0; t < truth.size(); ++t) {
    for (size_t f = 0; f < found.size(); ++f) {
      double d = distance(truth[t], found[f]);
      if (d <= tolerance + 1e-9) candidates.push_back({d, t, f});
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.distance < b.distance; });
  std::vector<bool> truth_used(truth.size()), found_used(found.size());
  MatchCounts counts{.truth = static_cast<int64_t>(truth.size()),
                     .found = static_cast<int64_t>(found.size())};
  for (const Candidate& c : candidates) {
    if (truth_used[c.truth] || found_used[c.found]) continue;
    truth_used[c.truth] = found_used[c.found] = true;
    ++counts.matched;
  }
  return counts;
}
}  // namespace

MatchCounts MatchEvents(const std::vector<double>& truth, const std::vector<double>& found,
                        double tolerance) {
  return MatchOneToOne(truth, found, tolerance, [](double a, double b) { return std::abs(a - b); });
}

MatchCounts MatchSpans(const std::vector<Span>& truth, const std::vector<Span>& found,
                       double tolerance) {
  return MatchOneToOne(truth, found, tolerance, [](const Span& a, const Span& b) {
    return std::max(std::abs(a.start - b.start), std::abs(a.end - b.end));
  });
}

}  // namespace sluice::quality
