// Private to app/: AWS settings from the standard variables, for the S3 store and the SQS
// intake it builds.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/aws_credentials.h"
#include "http/sigv4.h"
#include "storage/s3/s3_blob_store.h"

namespace sluice::app {

struct Process;

// S3 settings for "s3://bucket/prefix" from the standard AWS variables: AWS_ENDPOINT_URL
// (default https://s3.REGION.amazonaws.com), AWS_REGION or AWS_DEFAULT_REGION (default
// us-east-1), and the process's credential chain (Process::Aws). InvalidArgument for a bad URI;
// the chain's error, naming the URI, when it finds no usable source.
Result<storage::S3Options> S3OptionsFromEnvironment(const std::string& uri, Process& process);
// AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.
std::string AwsRegion();
// The process's AWS credentials (Process::Aws) for `what` (an S3 or SQS URI); the chain's error,
// naming `what`, when it finds no usable source.
Result<std::shared_ptr<http::AwsCredentialProvider>> AwsCredentialsFor(Process& process,
                                                                       std::string_view what);

}  // namespace sluice::app
