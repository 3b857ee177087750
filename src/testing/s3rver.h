// S3rver: the s3rver test server (npm, installed by scripts/test-servers.sh) started on a free
// loopback port with one bucket, for the S3 store's conformance tests. Stopped on destruction.
// s3rver checks SigV4 signatures with its fixed credentials (S3RVER / S3RVER).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace sluice::testing {

class S3rver {
 public:
  // FailedPrecondition naming scripts/test-servers.sh when s3rver is not installed;
  // Unavailable when it does not answer within 15 s.
  static Result<std::unique_ptr<S3rver>> Start(const std::string& bucket = "sluice-test");
  ~S3rver();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& bucket() const { return bucket_; }
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";

 private:
  S3rver() = default;
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
  std::string bucket_;
};

}  // namespace sluice::testing
