#include "common/prometheus.h"

#include <gtest/gtest.h>

namespace sluice::prometheus {
namespace {

TEST(PrometheusTest, HistogramBucketsAreCumulative) {
  Histogram latency;
  latency.Observe(0.0005);
  latency.Observe(0.02);
  latency.Observe(100);  // past every bucket: only +Inf
  std::string out;
  latency.AppendTo(out, "x_seconds", R"(method="a")");
  EXPECT_NE(out.find("x_seconds_bucket{method=\"a\",le=\"0.001\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_seconds_bucket{method=\"a\",le=\"0.025\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("x_seconds_bucket{method=\"a\",le=\"60\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("x_seconds_bucket{method=\"a\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("x_seconds_count{method=\"a\"} 3\n"), std::string::npos);
  std::string bare;
  Histogram().AppendTo(bare, "y", "");
  EXPECT_NE(bare.find("y_bucket{le=\"+Inf\"} 0\n"), std::string::npos) << bare;
  EXPECT_NE(bare.find("y_sum 0\ny_count 0\n"), std::string::npos) << bare;
}

TEST(PrometheusTest, NumbersAreExact) {
  EXPECT_EQ(Number(12'345'678), "12345678") << "not 1.23457e+07";
  EXPECT_EQ(Number(9'007'199'254'740'992.0), "9007199254740992");
  EXPECT_EQ(Number(0.0025), "0.0025");
  EXPECT_EQ(Number(1.5), "1.5");
  std::string out;
  AppendMetric(out, "bytes_total", "counter", "Bytes.", 123'456'789);
  EXPECT_NE(out.find("bytes_total 123456789\n"), std::string::npos) << out;
}

TEST(PrometheusTest, LabelValuesAreEscaped) {
  EXPECT_EQ(LabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  std::string out;
  AppendHeader(out, "n", "counter", "Things.");
  EXPECT_EQ(out, "# HELP n Things.\n# TYPE n counter\n");
}

}  // namespace
}  // namespace sluice::prometheus
