// The AWS shared files (~/.aws/config and ~/.aws/credentials) as the credential chain reads
// them: a profile file is typed by hand or written by tools, and whatever it holds — sections
// without ends, profiles naming each other in loops, keys without values — must come back as
// a source or a clear error, never a crash or a hang. The first line names the profile asked
// for (AWS_PROFILE); the rest is both files. No network: finding a source sends nothing.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "http/aws_credentials.h"
#include "http/curl_client.h"
#include "runtime/runtime.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sluice::runtime::Runtime runtime;
  static std::unique_ptr<sluice::http::HttpClient> client =
      std::move(*sluice::http::HttpClient::Create(runtime.loop_executor()));
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sluice-fuzz-aws." + std::to_string(getpid()));
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string profile = text.substr(0, text.find('\n'));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
  }
  sluice::http::AwsChainOptions options;
  options.environment = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "AWS_CONFIG_FILE" || name == "AWS_SHARED_CREDENTIALS_FILE") return file.string();
    if (name == "AWS_PROFILE" && !profile.empty()) return profile;
    if (name == "AWS_EC2_METADATA_DISABLED") return "true";
    return std::nullopt;
  };
  options.home = "/nonexistent";
  auto source = sluice::http::FindAwsCredentials(*client, options);
  if (source.ok() && (*source)->Describe().empty()) __builtin_trap();  // a source says what it is
  if (!source.ok() && source.status().message().empty()) __builtin_trap();  // errors say why
  sluice::http::ParseIso8601(text);
  return 0;
}
