// Private to app/: AWS settings from the standard variables, for the S3 store and the SQS
// intake it builds.
#pragma once

#include <string>

#include "common/status.h"
#include "http/sigv4.h"
#include "storage/s3/s3_blob_store.h"

namespace sluice::app {

// S3 settings for "s3://bucket/prefix" from the standard AWS variables: AWS_ENDPOINT_URL
// (default https://s3.REGION.amazonaws.com), AWS_REGION or AWS_DEFAULT_REGION (default
// us-east-1), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. InvalidArgument for
// a bad URI or missing credentials.
Result<storage::S3Options> S3OptionsFromEnvironment(const std::string& uri);
// SigV4 credentials for `service` from the same variables.
http::SigV4 AwsCredentialsFromEnvironment(const std::string& service);

}  // namespace sluice::app
