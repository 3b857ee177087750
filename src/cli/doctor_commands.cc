#include "cli/doctor_commands.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "app/compose.h"
#include "common/redact.h"
#include "common/strings.h"
#include "pipeline/readiness.h"

namespace sluice::cli {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

class Report {
 public:
  // Prints "PART  WHAT: ok (N ms)" or "PART  WHAT: FAILED: why".
  void Line(const std::string& part, const std::string& what, const Status& status,
            Clock::time_point started, const std::string& detail = "") {
    long long ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (status.ok()) {
      std::printf("%-10s %s: ok (%lld ms%s%s)\n", part.c_str(), what.c_str(), ms,
                  detail.empty() ? "" : ", ", detail.c_str());
    } else {
      failed_ = true;
      std::printf("%-10s %s: FAILED: %s\n", part.c_str(), what.c_str(),
                  RedactSecrets(std::string(status.message())).c_str());
    }
    std::fflush(stdout);
  }
  void Note(const std::string& part, const std::string& text) {
    std::printf("%-10s %s\n", part.c_str(), text.c_str());
  }
  bool failed() const { return failed_; }

 private:
  bool failed_ = false;
};

// The access key shown with its last four characters only.
std::string MaskedKey(const std::string& key) {
  return key.size() <= 4 ? std::string("****")
                         : StrCat(key.substr(0, 4), "…", key.substr(key.size() - 4));
}

std::string ExpiryText(const http::AwsCredentials& credentials) {
  if (!credentials.expires) return "long-term keys";
  auto left = std::chrono::duration_cast<std::chrono::minutes>(*credentials.expires -
                                                               std::chrono::system_clock::now());
  return StrCat("temporary, ", left.count(), " min left");
}

bool WantsProbe(const methods::remote::ProviderConfig& provider, const std::string& default_name,
                const std::vector<std::string>& named) {
  if (!named.empty()) return std::find(named.begin(), named.end(), provider.name) != named.end();
  // An OpenAI-compatible provider without a key at the public URL is one nobody set up.
  if (provider.kind == "openai")
    return !provider.api_key.empty() || provider.base_url != "https://api.openai.com/v1";
  return provider.name == default_name;
}

void CheckAws(app::Process& process, Report& report) {
  Clock::time_point started = Clock::now();
  Result<std::shared_ptr<http::AwsCredentialProvider>> aws = process.Aws();
  if (!aws.ok()) {
    report.Line("aws", "credentials", aws.status(), started);
    return;
  }
  Result<http::AwsCredentials> credentials = process.runtime.Run((*aws)->Current());
  report.Line("aws", StrCat("credentials from ", (*aws)->source()), credentials.status(), started,
              credentials.ok() ? StrCat("key ", MaskedKey(credentials->access_key), ", ",
                                        ExpiryText(*credentials))
                               : "");
}

}  // namespace

int RunDoctor(DoctorConfig config) {
  Report report;
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  std::filesystem::path config_file = app::ConfigFile(config.where.config);
  report.Note("config", config_file.empty() ? "none (embedded defaults)" : config_file.string());

  Result<std::unique_ptr<app::MethodStack>> stack =
      app::BuildMethods(process->get(), config.where.config);
  if (!stack.ok()) {
    report.Line("methods", "config", stack.status(), Clock::now());
  }
  Result<app::Backends> uris =
      app::ResolveBackends({config.where.db, config.where.store}, config_file);
  bool needs_aws = uris.ok() && uris->store.starts_with("s3://");
  if (stack.ok()) {
    for (const auto& provider : (*stack)->config.providers) {
      if (provider.kind == "bedrock" &&
          WantsProbe(provider, (*stack)->config.default_provider, config.providers))
        needs_aws = true;
    }
  }
  if (needs_aws) {
    CheckAws(**process, report);
  } else {
    report.Note("aws", "not used (no S3 store or Bedrock provider)");
  }

  Clock::time_point started = Clock::now();
  Result<app::DataDir> data = app::OpenData(
      config.where.data, **process, {config.where.db, config.where.store}, config.where.config);
  if (!data.ok()) {
    report.Line("data", config.where.data.string(), data.status(), started);
  } else {
    started = Clock::now();
    Status database = (*process)->runtime.Run(
        pipeline::DatabaseAnswers(*data->db, (*process)->runtime.blocking()));
    report.Line("database", data->database(), database, started);
    started = Clock::now();
    Status store = (*process)->runtime.Run(pipeline::StoreAnswers(*data->store));
    report.Line("objects", data->objects(), store, started);
  }

  if (stack.ok() && (*stack)->providers) {
    for (methods::remote::Provider* provider : (*stack)->providers->All()) {
      const methods::remote::ProviderConfig& settings = provider->config();
      std::string what = StrCat(settings.name, " (", settings.kind, ", ", settings.base_url, ")");
      if (!WantsProbe(settings, (*stack)->config.default_provider, config.providers)) {
        report.Note("provider",
                    StrCat(what, ": not set up (--provider ", settings.name, " checks it)"));
        continue;
      }
      started = Clock::now();
      Status answered = (*process)->runtime.Run(provider->Probe());
      report.Line("provider", what, answered, started);
    }
  }
  return report.failed() ? kExitFatal : kExitOk;
}

}  // namespace sluice::cli
