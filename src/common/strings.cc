#include "common/strings.h"

#include <cctype>

namespace sluice {

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ConsumePrefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

template <class T>
static bool ParseWhole(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ParseInt(std::string_view s, int64_t& out) { return ParseWhole(s, out); }
bool ParseInt(std::string_view s, int& out) { return ParseWhole(s, out); }

bool ParseByteSize(std::string_view s, int64_t& out) {
  s = Trim(s);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  int64_t number = 0;
  if (!ParseInt(s.substr(0, digits), number)) return false;
  std::string unit = ToLower(Trim(s.substr(digits)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  int64_t multiplier = 0;
  if (unit.empty())
    multiplier = 1;
  else if (unit == "k")
    multiplier = 1000;
  else if (unit == "m")
    multiplier = int64_t{1000} * 1000;
  else if (unit == "g")
    multiplier = int64_t{1000} * 1000 * 1000;
  else if (unit == "t")
    multiplier = int64_t{1000} * 1000 * 1000 * 1000;
  else if (unit == "ki")
    multiplier = int64_t{1} << 10;
  else if (unit == "mi")
    multiplier = int64_t{1} << 20;
  else if (unit == "gi")
    multiplier = int64_t{1} << 30;
  else if (unit == "ti")
    multiplier = int64_t{1} << 40;
  else
    return false;
  if (number > INT64_MAX / multiplier) return false;
  out = number * multiplier;
  return true;
}

std::vector<std::string_view> Split(std::string_view s, std::string_view separator) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(separator, start);
    if (at == std::string_view::npos) {
      pieces.push_back(s.substr(start));
      return pieces;
    }
    pieces.push_back(s.substr(start, at - start));
    start = at + separator.size();
  }
}

}  // namespace sluice
