// Errors as values at module boundaries (DESIGN.md §6).
//
// `Status` and `Result<T>` are absl's. Beyond the canonical code, which decides behaviour
// (retry or not), a failure may carry a *cause*: a short stable token such as "http_404" or
// "blocked_address" that is stored with the failed item and that users filter on. The human
// explanation stays in the message.
//
// Thread-safe: everything here is a pure function.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

using Status = absl::Status;
template <class T>
using Result = absl::StatusOr<T>;

// Returns `status` with `cause` attached. An OK status is returned unchanged.
Status WithCause(Status status, std::string_view cause);

// Returns a failure with `code`, `message` and `cause` in one call.
Status Failure(absl::StatusCode code, std::string_view cause, std::string_view message);

// The cause attached by WithCause, or a token derived from the code ("unavailable",
// "not_found", ...) when none was attached. Empty for OK.
std::string CauseOf(const Status& status);

// True for the codes that DESIGN.md §6 says are worth retrying with backoff: Unavailable,
// DeadlineExceeded, ResourceExhausted. Everything else is permanent for the item.
bool IsRetryable(const Status& status);

}  // namespace sluice

#define SLUICE_STATUS_CONCAT_INNER_(a, b) a##b
#define SLUICE_STATUS_CONCAT_(a, b) SLUICE_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define SLUICE_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::sluice::Status sluice_status_ = (expr);        \
    if (!sluice_status_.ok()) return sluice_status_; \
  } while (0)

// Same, for coroutines.
#define SLUICE_CO_RETURN_IF_ERROR(expr)                 \
  do {                                                  \
    ::sluice::Status sluice_status_ = (expr);           \
    if (!sluice_status_.ok()) co_return sluice_status_; \
  } while (0)

// Declares `lhs` from the value of `expr` (a Result), or returns its error.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_STATUS_CONCAT_(sluice_result_, __LINE__), lhs, expr, return )
#define SLUICE_CO_ASSIGN_OR_RETURN(lhs, expr)                                               \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_STATUS_CONCAT_(sluice_result_, __LINE__), lhs, expr, \
                                co_return )
// `lhs` is a declaration ("int x"), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define SLUICE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                       \
  if (!tmp.ok()) ret std::move(tmp).status();              \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
