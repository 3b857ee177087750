#include "common/status.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(StatusTest, CauseAttachedIsReturned) {
  Status s = Failure(absl::StatusCode::kNotFound, "http_404", "server answered 404");
  EXPECT_EQ(CauseOf(s), "http_404");
  EXPECT_EQ(s.message(), "server answered 404");
}

TEST(StatusTest, CauseDerivedFromCodeWhenAbsent) {
  EXPECT_EQ(CauseOf(absl::DeadlineExceededError("x")), "deadline_exceeded");
  EXPECT_EQ(CauseOf(absl::OkStatus()), "");
  EXPECT_TRUE(WithCause(absl::OkStatus(), "x").ok());
}

TEST(StatusTest, RetryableCodes) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("")));
  EXPECT_FALSE(IsRetryable(absl::NotFoundError("")));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsRetryable(absl::FailedPreconditionError("")));
  EXPECT_FALSE(IsRetryable(absl::PermissionDeniedError("")));
}

Result<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}
Result<int> Quarter(int x) {
  SLUICE_ASSIGN_OR_RETURN(int h, Half(x));
  SLUICE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, AssignOrReturnPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
