// Reading a list of URLs: the file / stdin intake of `sluice run` (DESIGN.md §2, intake).
//
// Three formats, told apart by the first meaningful line:
//   plain — one URL per line; blank lines and lines starting with '#' are skipped;
//   CSV   — a header row with a column named "url" (any case); RFC 4180 quoting;
//   JSONL — one JSON object per line with a string member "url".
// Duplicates are dropped, first occurrence kept, so a URL is one item of its set.
//
// Thread-safe: pure functions.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::intake {

enum class ListFormat { kPlain, kCsv, kJsonl };

struct UrlList {
  ListFormat format = ListFormat::kPlain;
  std::vector<std::string> urls;
  // Rows dropped as repeats of an earlier URL.
  size_t duplicates = 0;
};

// InvalidArgument naming the line for a malformed JSONL line, a JSONL object without a string
// "url", or a CSV row with fewer columns than the header's url column.
Result<UrlList> ReadUrlList(std::istream& in);

// Reads `path`, or standard input when `path` is "-". NotFound / PermissionDenied (cause
// "unreadable_list") when the file cannot be opened; errors of ReadUrlList otherwise.
Result<UrlList> ReadUrlListFile(const std::string& path);

// The set a list file names by default: its file name without extension, other characters
// than letters, digits, '.', '_' and '-' replaced by '-'; "stdin" for "-"; "default" when
// that leaves nothing usable.
std::string DefaultSetName(const std::string& list);

}  // namespace sluice::intake
