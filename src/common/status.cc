#include "common/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "common/strings.h"

namespace sluice {
namespace {
constexpr char kCauseUrl[] = "type.sluice.dev/cause";
}  // namespace

Status WithCause(Status status, std::string_view cause) {
  if (!status.ok())
    status.SetPayload(kCauseUrl, absl::Cord(absl::string_view(cause.data(), cause.size())));
  return status;
}

Status Failure(absl::StatusCode code, std::string_view cause, std::string_view message) {
  return WithCause(Status(code, absl::string_view(message.data(), message.size())), cause);
}

std::string CauseOf(const Status& status) {
  if (status.ok()) return "";
  if (auto cause = status.GetPayload(kCauseUrl)) return std::string(*cause);
  std::string name = ToLower(absl::StatusCodeToString(status.code()));
  for (char& c : name) {
    if (c == ' ') c = '_';
  }
  return name;
}

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

}  // namespace sluice
