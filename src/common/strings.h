// Small string helpers over std::string_view. (Debian's Abseil has its own string_view type, so
// absl's string functions do not take std::string_view; these do.)
//
// Thread-safe: pure functions.
#pragma once

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sluice {

namespace strings_internal {
inline void Append(std::string& out, std::string_view piece) { out.append(piece); }
inline void Append(std::string& out, const char* piece) { out.append(piece); }
inline void Append(std::string& out, const std::string& piece) { out.append(piece); }
inline void Append(std::string& out, char c) { out.push_back(c); }
// Other string-view types (absl's, Boost's): anything with data() and size() of chars.
template <class T>
requires requires(const T& t) {
  { t.data() } -> std::convertible_to<const char*>;
  { t.size() } -> std::convertible_to<size_t>;
} &&(!std::is_same_v<T, std::string>)&&(!std::is_same_v<T, std::string_view>)inline void Append(
    std::string& out, const T& piece) {
  out.append(piece.data(), piece.size());
}
template <class T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) inline void Append(std::string& out, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    char buffer[64];
    auto [end, ec] =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 6);
    out.append(buffer, end);
  } else {
    out.append(std::to_string(value));
  }
}
}  // namespace strings_internal

// Concatenates strings, characters and numbers.
template <class... Pieces>
std::string StrCat(const Pieces&... pieces) {
  std::string out;
  (strings_internal::Append(out, pieces), ...);
  return out;
}

template <class... Pieces>
void StrAppend(std::string& out, const Pieces&... pieces) {
  (strings_internal::Append(out, pieces), ...);
}

// Without leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view s);
std::string ToLower(std::string_view s);
// Removes `prefix` from the front of `s` when present; returns whether it was.
bool ConsumePrefix(std::string_view& s, std::string_view prefix);
// Whole-string decimal integer, optional leading '-'. False on anything else or overflow.
bool ParseInt(std::string_view s, int64_t& out);
bool ParseInt(std::string_view s, int& out);
// "1234", "10k", "500MB", "2GiB" (k/M/G/T decimal, Ki/Mi/Gi/Ti binary; a trailing "B" and any
// case accepted). False for anything else or overflow.
bool ParseByteSize(std::string_view s, int64_t& out);
// Levenshtein distance between two sequences (strings, vectors of words): the fewest
// insertions, deletions and substitutions that turn one into the other. O(|a|·|b|) time.
template <class Sequence>
size_t EditDistance(const Sequence& a, const Sequence& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min(std::min(row[j], row[j - 1]) + 1, substitute);
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Splits at every occurrence of `separator` (non-empty); keeps empty pieces.
std::vector<std::string_view> Split(std::string_view s, std::string_view separator);

}  // namespace sluice
