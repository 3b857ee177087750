#include "app/compose.h"

#include <cstdlib>

#include "app/methods_module.h"
#include "aws_settings.h"  // private to app/
#include "common/redact.h"
#include "common/strings.h"
#include "methods/remote/cassette.h"
#include "queue/intake/sqs_intake.h"
#include "storage/s3/s3_blob_store.h"

namespace sluice::app {

Result<std::unique_ptr<Process>> Process::Create() {
  auto process = std::make_unique<Process>();
  SLUICE_ASSIGN_OR_RETURN(process->http,
                          http::HttpClient::Create(process->runtime.loop_executor(), {}));
  return process;
}

Result<std::shared_ptr<http::AwsCredentialProvider>> Process::Aws() {
  if (aws_) return aws_;
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<http::AwsCredentialSource> source,
                          http::FindAwsCredentials(*http, {.blocking = &runtime.blocking()}));
  aws_ = http::AwsCredentialProvider::Create(runtime.loop_executor(), std::move(source));
  return aws_;
}

std::filesystem::path ConfigFile(const std::filesystem::path& given) {
  if (!given.empty()) return given;
  const char* from_env =
      std::getenv("SLUICE_CONFIG");  // NOLINT(concurrency-mt-unsafe): main thread
  return from_env ? std::filesystem::path(from_env) : std::filesystem::path();
}

Result<DataDir> OpenData(const std::filesystem::path& root, Process& process, Backends flags,
                         const std::filesystem::path& config_file, bool existing) {
  SLUICE_ASSIGN_OR_RETURN(Backends uris,
                          ResolveBackends(std::move(flags), ConfigFile(config_file)));
  return existing ? DataDir::OpenExisting(root, process, uris) : DataDir::Open(root, process, uris);
}

int64_t MethodStack::recorded() const {
  auto* recorder = dynamic_cast<const methods::remote::RecordingTransport*>(cassette.get());
  return recorder ? recorder->recorded() : -1;
}

Result<std::unique_ptr<MethodStack>> BuildMethods(Process* process,
                                                  const std::filesystem::path& config_file,
                                                  Cassettes cassettes) {
  auto stack = std::make_unique<MethodStack>();
  SLUICE_ASSIGN_OR_RETURN(stack->config,
                          methods::remote::LoadProvidersConfig(ConfigFile(config_file)));
  methods::remote::RemoteEnv env{.config = &stack->config};
  if (process) {
    // Bedrock signs with the process's AWS chain; a chain that finds nothing fails its calls,
    // not the methods that never reach Bedrock.
    for (methods::remote::ProviderConfig& provider : stack->config.providers) {
      RegisterSecret(provider.api_key);
      if (provider.kind != "bedrock") continue;
      Result<std::shared_ptr<http::AwsCredentialProvider>> aws = process->Aws();
      if (aws.ok()) {
        provider.aws_credentials = *aws;
      } else {
        provider.aws_problem = std::string(aws.status().message());
      }
    }
    stack->network = std::make_unique<methods::remote::NetworkTransport>(*process->http);
    methods::remote::Transport* transport = stack->network.get();
    if (!cassettes.replay.empty()) {
      stack->cassette = std::make_unique<methods::remote::ReplayTransport>(cassettes.replay);
      transport = stack->cassette.get();
    } else if (!cassettes.record.empty()) {
      stack->cassette =
          std::make_unique<methods::remote::RecordingTransport>(*transport, cassettes.record);
      transport = stack->cassette.get();
    }
    stack->providers = std::make_unique<methods::remote::Providers>(
        stack->config, process->runtime.loop_executor(), *transport);
    env.providers = stack->providers.get();
    env.runtime = &process->runtime;
  }
  SLUICE_RETURN_IF_ERROR(RegisterBuiltinMethodsFromModule(stack->registry, env));
  return stack;
}

std::unique_ptr<MethodStack> NoMethods() { return std::make_unique<MethodStack>(); }

Result<std::vector<ReloadedLimits>> ReloadProviderLimits(MethodStack& stack,
                                                         const std::filesystem::path& config_file) {
  SLUICE_ASSIGN_OR_RETURN(methods::remote::ProvidersConfig fresh,
                          methods::remote::LoadProvidersConfig(ConfigFile(config_file)));
  std::vector<ReloadedLimits> reloaded;
  if (!stack.providers) return reloaded;
  for (methods::remote::Provider* provider : stack.providers->All()) {
    if (const auto* given = fresh.Find(provider->config().name)) {
      provider->gate().SetLimits(given->limits);
      reloaded.push_back({provider->config().name, given->limits});
    }
  }
  return reloaded;
}

Result<pipeline::PipelineDef> PipelineFor(const std::filesystem::path& file,
                                          const methods::Registry& registry) {
  if (file.empty()) return pipeline::DefaultPipeline(registry);
  // A bare name that is no file names a built-in pipeline ("video", "defects").
  std::error_code ec;
  if (!file.has_parent_path() && !file.has_extension() && !std::filesystem::exists(file, ec))
    return pipeline::BuiltinPipeline(file.string(), registry);
  return pipeline::LoadPipelineFile(file, registry);
}

pipeline::SetParts SetPartsOf(Process& process, DataDir& data, const MethodStack& stack) {
  return {.runtime = &process.runtime,
          .http = process.http.get(),
          .store = data.store,
          .db = data.db.get(),
          .registry = &stack.registry,
          .indexes = data.indexes.get(),
          .index_copies = data.index_copies(),
          .data_root = data.root,
          .scratch_dir = data.scratch};
}

namespace {

// Reads a manifest named by an SQS message: s3://bucket/key with the standard AWS settings.
boost::asio::awaitable<Result<std::string>> ReadManifest(Process& process, std::string uri) {
  storage::S3Options parsed;
  if (!storage::ParseS3Uri(uri, parsed).ok() || parsed.prefix.empty()) {
    co_return Failure(absl::StatusCode::kInvalidArgument, "bad_message",
                      StrCat("manifest '", uri, "': only s3://bucket/key manifests are read"));
  }
  // The store reads the whole bucket; the rest of the URI is the manifest's key.
  std::string key = uri.substr(StrCat("s3://", parsed.bucket, "/").size());
  Result<storage::S3Options> options =
      S3OptionsFromEnvironment(StrCat("s3://", parsed.bucket), process);
  SLUICE_CO_RETURN_IF_ERROR(options.status());
  storage::S3BlobStore store(*process.http, process.runtime.loop_executor(),
                             process.runtime.blocking(), *options);
  co_return co_await store.Get(key, std::nullopt);
}

// The SQS queue and the intake over it, owned together.
class OwnedSqsIntake : public intake::Intake {
 public:
  OwnedSqsIntake(Process& process, DataDir& data, const SqsSettings& settings,
                 std::shared_ptr<http::AwsCredentialProvider> credentials)
      : queue_(*process.http,
               intake::SqsOptions{.queue_url = settings.queue_url,
                                  .credentials = {.region = AwsRegion(), .service = "sqs"},
                                  .credential_provider = credentials,
                                  .wait_seconds = settings.wait_seconds,
                                  // The operator names the queue; it may be local.
                                  .allow_private = true}),
        intake_(
            process.runtime, queue_, *data.db,
            [&process](std::string uri) { return ReadManifest(process, std::move(uri)); },
            intake::SqsIntakeOptions{.visibility_seconds = settings.visibility_seconds,
                                     .max_attempts = settings.max_attempts,
                                     .validate_set = pipeline::ValidateSetName}) {}

  boost::asio::awaitable<void> Run() override { return intake_.Run(); }
  void Stop() override { intake_.Stop(); }
  bool idle() const override { return intake_.idle(); }
  const intake::IntakeCounts& counts() const override { return intake_.counts(); }

 private:
  intake::SqsQueue queue_;
  intake::SqsIntake intake_;
};

}  // namespace

Result<std::unique_ptr<intake::Intake>> MakeSqsIntake(Process& process, DataDir& data,
                                                      SqsSettings settings) {
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<http::AwsCredentialProvider> credentials,
                          AwsCredentialsFor(process, settings.queue_url));
  return std::unique_ptr<intake::Intake>(
      std::make_unique<OwnedSqsIntake>(process, data, settings, std::move(credentials)));
}

}  // namespace sluice::app
