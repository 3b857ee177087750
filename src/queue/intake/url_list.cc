#include "queue/intake/url_list.h"

#include <boost/json/parse.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "common/strings.h"

namespace sluice::intake {
namespace {

// Splits one CSV record (RFC 4180 quoting; no embedded newlines).
std::vector<std::string> CsvFields(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

int UrlColumn(std::string_view header) {
  std::vector<std::string> fields = CsvFields(header);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (ToLower(Trim(fields[i])) == "url") return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Result<UrlList> ReadUrlList(std::istream& in) {
  UrlList list;
  std::unordered_set<std::string> seen;
  bool decided = false;
  int url_column = -1;
  std::string line;
  size_t line_number = 0;
  auto add = [&](std::string url) {
    if (url.empty()) return;
    if (seen.insert(url).second) {
      list.urls.push_back(std::move(url));
    } else {
      ++list.duplicates;
    }
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view text = Trim(line);
    if (text.empty() || text.front() == '#') continue;
    if (!decided) {
      decided = true;
      if (text.front() == '{') {
        list.format = ListFormat::kJsonl;
      } else if ((url_column = UrlColumn(text)) >= 0) {
        list.format = ListFormat::kCsv;
        continue;  // the header row
      }
    }
    switch (list.format) {
      case ListFormat::kPlain:
        add(std::string(text));
        break;
      case ListFormat::kCsv: {
        std::vector<std::string> fields = CsvFields(text);
        if (static_cast<int>(fields.size()) <= url_column) {
          return absl::InvalidArgumentError(StrCat("line ", line_number, ": ", fields.size(),
                                                   " columns, but the url column is number ",
                                                   url_column + 1));
        }
        add(std::string(Trim(fields[static_cast<size_t>(url_column)])));
        break;
      }
      case ListFormat::kJsonl: {
        boost::system::error_code ec;
        boost::json::value row =
            boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
        if (ec)
          return absl::InvalidArgumentError(
              StrCat("line ", line_number, ": not JSON (", ec.message(), ")"));
        const boost::json::object* object = row.if_object();
        const boost::json::value* url = object ? object->if_contains("url") : nullptr;
        if (!url || !url->is_string()) {
          return absl::InvalidArgumentError(
              StrCat("line ", line_number, ": no string member \"url\""));
        }
        add(std::string(
            Trim(std::string_view(url->get_string().data(), url->get_string().size()))));
        break;
      }
    }
  }
  if (in.bad()) return absl::DataLossError("reading the URL list failed");
  return list;
}

Result<UrlList> ReadUrlListFile(const std::string& path) {
  if (path == "-") return ReadUrlList(std::cin);
  std::ifstream in(path);
  if (!in) {
    int e = errno;
    return Failure(e == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kPermissionDenied,
                   "unreadable_list",
                   StrCat("cannot read the URL list ", path, ": ", std::strerror(e)));
  }
  return ReadUrlList(in);
}

std::string DefaultSetName(const std::string& list) {
  if (list == "-") return "stdin";
  std::string stem = std::filesystem::path(list).stem().string();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '-';
  }
  return stem.empty() || stem.size() > 100 ? "default" : stem;
}

}  // namespace sluice::intake
