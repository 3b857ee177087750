#include "http/retry_after.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

using std::chrono::milliseconds;

TEST(RetryAfterTest, Seconds) {
  auto now = std::chrono::system_clock::now();
  EXPECT_EQ(ParseRetryAfter("120", now), milliseconds(120'000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), milliseconds(0));
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-3", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
}

TEST(RetryAfterTest, HttpDateInAllThreeForms) {
  // Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example instant.
  auto instant = std::chrono::system_clock::from_time_t(784111777);
  auto now = instant - std::chrono::seconds(90);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), milliseconds(90'000));
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), milliseconds(90'000));
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", now), milliseconds(90'000));
  // A date in the past means "now".
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", instant + std::chrono::hours(1)),
            milliseconds(0));
}

}  // namespace
}  // namespace sluice::http
