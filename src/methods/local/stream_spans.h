// Spans of time over which a per-frame or per-sample condition holds (black, frozen, silent),
// for the stream methods' detectors. Not thread-safe: one tracker per sink.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <utility>
#include <vector>

#include "methods/method.h"

namespace sluice::methods {

class SpanTracker {
 public:
  // Spans shorter than `min_duration_s` are not kept.
  explicit SpanTracker(double min_duration_s = 0) : min_duration_s_(min_duration_s) {}

  // The condition is `on` at time `at`: a span starts at the first `at` observed on and ends at
  // the first observed off.
  void Observe(bool on, double at) {
    if (on && !running_) {
      running_ = true;
      start_ = at;
    } else if (!on && running_) {
      End(at);
    }
  }
  // The stream ended at `end`: a running span ends there.
  void Close(double end) {
    if (running_) End(end);
  }
  const std::vector<std::pair<double, double>>& spans() const { return spans_; }
  // [{"start_s", "end_s", "duration_s"}, …]
  boost::json::array ToJson() const {
    boost::json::array out;
    for (const auto& [from, to] : spans_) {
      out.push_back(boost::json::object{{"start_s", RoundedSeconds(from)},
                                        {"end_s", RoundedSeconds(to)},
                                        {"duration_s", RoundedSeconds(to - from)}});
    }
    return out;
  }

 private:
  void End(double at) {
    running_ = false;
    if (at - start_ >= min_duration_s_) spans_.emplace_back(start_, at);
  }

  double min_duration_s_;
  bool running_ = false;
  double start_ = 0;
  std::vector<std::pair<double, double>> spans_;
};

}  // namespace sluice::methods
