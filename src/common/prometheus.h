// Pieces of Prometheus's text exposition format (0.0.4) that every /metrics source shares.
//
// Not thread-safe: the owner of a Histogram serialises its calls.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sluice::prometheus {

// A latency histogram in seconds with fixed buckets from 1 ms to 60 s.
class Histogram {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   1,     5,    15,    60};
  void Observe(double seconds);
  // Appends NAME_bucket{LABELS,le="…"} for every bucket and +Inf, NAME_sum and NAME_count.
  // `labels` is "" or `a="x",b="y"`.
  void AppendTo(std::string& out, std::string_view name, std::string_view labels) const;
  int64_t count() const { return count_; }

 private:
  std::array<int64_t, kBuckets.size()> below_{};  // not cumulative; summed when rendered
  int64_t count_ = 0;
  double sum_ = 0;
};

// "# HELP NAME HELP" and "# TYPE NAME TYPE" lines.
void AppendHeader(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help);

// `value` as a sample value: integers as integers, other numbers in the shortest form that
// reads back exactly (never rounded to six digits, as byte and token counters would be).
std::string Number(double value);

// One metric with one value: its header and "NAME VALUE".
void AppendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, double value);

// One metric with a value per label value: its header and NAME{LABEL="KEY"} VALUE for each.
void AppendByLabel(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::string_view label,
                   const std::map<std::string, int64_t>& values);

// `value` escaped for a label value: backslash, double quote and newline.
std::string LabelValue(std::string_view value);

}  // namespace sluice::prometheus
