#include "common/prometheus.h"

#include <charconv>

#include "common/strings.h"

namespace sluice::prometheus {

void Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++below_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

void Histogram::AppendTo(std::string& out, std::string_view name, std::string_view labels) const {
  std::string_view comma = labels.empty() ? "" : ",";
  int64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += below_[i];
    StrAppend(out, name, "_bucket{", labels, comma, "le=\"", Number(kBuckets[i]), "\"} ",
              cumulative, "\n");
  }
  StrAppend(out, name, "_bucket{", labels, comma, "le=\"+Inf\"} ", count_, "\n", name, "_sum",
            labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ", Number(sum_), "\n",
            name, "_count", labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
            count_, "\n");
}

void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help) {
  StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::string Number(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, double value) {
  AppendHeader(out, name, type, help);
  StrAppend(out, name, " ", Number(value), "\n");
}

void AppendByLabel(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::string_view label,
                   const std::map<std::string, int64_t>& values) {
  AppendHeader(out, name, type, help);
  for (const auto& [key, value] : values)
    StrAppend(out, name, "{", label, "=\"", LabelValue(key), "\"} ", value, "\n");
}

std::string LabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out.append("\\n");
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace sluice::prometheus
