// The composition root (DESIGN.md §3): builds the process's parts — the runtime with its one
// HTTP client, the data directory with its backends, the method registry with its providers,
// an SQS intake — from flags, environment and config file, and hands them to the fronts.
// Nothing here orchestrates a set (pipeline::SetRunner does) or prints (cli/ does).
//
// Main thread: build before Runtime::Run, destroy after it returns.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "app/backends.h"
#include "app/data_dir.h"
#include "http/aws_credentials.h"
#include "http/curl_client.h"
#include "methods/registry.h"
#include "methods/remote/config.h"
#include "methods/remote/provider.h"
#include "pipeline/definition.h"
#include "pipeline/set_runner.h"
#include "queue/intake/intake.h"
#include "runtime/runtime.h"

namespace sluice::app {

// The event loop and pools, and the one HTTP client that every fetch, provider call, S3 request
// and SQS request of the process goes through (one connection cache, one DNS cache).
struct Process {
  runtime::Runtime runtime;
  std::unique_ptr<http::HttpClient> http;

  // Internal when libcurl cannot initialise.
  static Result<std::unique_ptr<Process>> Create();

  // The AWS credentials every S3, SQS and Bedrock request of the process signs with, from the
  // chain AWS SDKs follow (http/aws_credentials.h), looked up on first use and kept. The
  // chain's error when a configured source is broken or nothing is configured.
  Result<std::shared_ptr<http::AwsCredentialProvider>> Aws();

 private:
  std::shared_ptr<http::AwsCredentialProvider> aws_;
};

// Where the configuration comes from: the config file given, else $SLUICE_CONFIG, else none.
std::filesystem::path ConfigFile(const std::filesystem::path& given);

// The data directory with the backends named by `flags`, else the environment, else the config
// file's [backends] (DataDir::Open documents the URIs and failures). `existing`: NotFound
// (cause "no_data") when there is no embedded database yet.
Result<DataDir> OpenData(const std::filesystem::path& root, Process& process, Backends flags,
                         const std::filesystem::path& config_file, bool existing = false);

struct Cassettes {
  std::filesystem::path record;  // save provider exchanges here
  std::filesystem::path replay;  // answer provider calls from here, no network
};

// The methods and what remote ones need: the provider config, the transport (network, or a
// cassette) and the live providers.
struct MethodStack {
  methods::remote::ProvidersConfig config;
  std::unique_ptr<methods::remote::Transport> network;
  std::unique_ptr<methods::remote::Transport> cassette;
  std::unique_ptr<methods::remote::Providers> providers;
  methods::Registry registry;
  // Exchanges saved by a recording cassette, or -1 when none records.
  int64_t recorded() const;
};

// The registry of built-in methods (from the media and methods module, methods_module.h) with
// providers from the config file. Without a process the remote methods can be listed and
// validated but not run. InvalidArgument (FILE:LINE) for a malformed config file;
// FailedPrecondition when the module cannot be loaded.
Result<std::unique_ptr<MethodStack>> BuildMethods(Process* process,
                                                  const std::filesystem::path& config_file,
                                                  Cassettes cassettes = {});
// A stack with no methods, for runs that analyse nothing (run --fetch-only): the module is not
// loaded.
std::unique_ptr<MethodStack> NoMethods();

// The limits a provider was given by ReloadProviderLimits.
struct ReloadedLimits {
  std::string provider;
  methods::remote::ProviderLimits limits;
};
// Applies the limits the config file now gives to the live providers of the same names and
// returns what changed. The config file's error when it no longer parses (nothing changes).
Result<std::vector<ReloadedLimits>> ReloadProviderLimits(MethodStack& stack,
                                                         const std::filesystem::path& config_file);

// The built-in default pipeline (empty `file`), a built-in pipeline by name ("video",
// "defects": a bare name that is no file; NotFound "unknown_pipeline" for another), or the
// pipeline file checked against the registry (InvalidArgument "FILE:LINE: …").
Result<pipeline::PipelineDef> PipelineFor(const std::filesystem::path& file,
                                          const methods::Registry& registry);

// What a set run borrows from the composed parts.
pipeline::SetParts SetPartsOf(Process& process, DataDir& data, const MethodStack& stack);

struct SqsSettings {
  std::string queue_url;
  int wait_seconds = 20;
  int visibility_seconds = 60;
  int max_attempts = 3;  // of the jobs it creates
};
// An intake turning the SQS queue's messages into jobs of `data`'s queue; manifests named by
// messages are read from S3 (s3://bucket/key) with the standard AWS settings. Credentials from
// the process's chain (Process::Aws): its error, naming the queue, when it finds none.
Result<std::unique_ptr<intake::Intake>> MakeSqsIntake(Process& process, DataDir& data,
                                                      SqsSettings settings);

}  // namespace sluice::app
