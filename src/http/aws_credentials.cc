#include "http/aws_credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <cstdlib>
#include <ctime>
#include <map>
#include <pugixml.hpp>
#include <set>
#include <utility>
#include <vector>

#include "common/file_io.h"
#include "common/redact.h"
#include "common/strings.h"
#include "http/aws_error.h"
#include "http/request.h"
#include "runtime/offload.h"

extern char** environ;  // NOLINT: POSIX

namespace sluice::http {
namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::system_clock;

namespace {

Status BadCredentials(std::string message) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_credentials", std::move(message));
}
Status NoCredentials(std::string message) {
  return Failure(absl::StatusCode::kUnauthenticated, "no_credentials", std::move(message));
}

// The requests to a metadata or container endpoint, or an STS endpoint the operator named, may
// reach that one address and no other non-public one.
AddressPolicy OnlyEndpoint(std::string_view url) {
  AddressPolicy policy;
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return policy;
  std::string host(parsed->encoded_host_address());
  if (ParseIpLiteral(host)) {
    policy.allowed_endpoints.push_back(
        parsed->has_port() ? StrCat(host, ":", std::string(parsed->port())) : host);
  } else {
    policy.allow_private = true;  // a hostname the operator configured
  }
  return policy;
}

// ---- the shared files ---------------------------------------------------------------------

using Section = std::map<std::string, std::string>;
using IniSections = std::map<std::string, Section>;

// The INI dialect of ~/.aws/credentials and ~/.aws/config: "[name]" sections, "key = value",
// '#' and ';' comments; indented lines continue a nested setting (s3 = …) and are skipped.
IniSections ParseIni(std::string_view text) {
  IniSections sections;
  Section* current = nullptr;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) continue;
    std::string trimmed(Trim(line));
    if (trimmed.empty() || trimmed[0] == '#' || trimmed[0] == ';') continue;
    if (trimmed.front() == '[' && trimmed.back() == ']') {
      current =
          &sections[std::string(Trim(std::string_view(trimmed).substr(1, trimmed.size() - 2)))];
      continue;
    }
    size_t equals = trimmed.find('=');
    if (!current || equals == std::string::npos) continue;
    (*current)[ToLower(Trim(std::string_view(trimmed).substr(0, equals)))] =
        std::string(Trim(std::string_view(trimmed).substr(equals + 1)));
  }
  return sections;
}

// Missing files are empty; unreadable ones are errors.
Result<IniSections> ReadIni(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return IniSections{};
  Result<std::string> text = ReadWholeFile(file.string());
  if (!text.ok())
    return BadCredentials(StrCat("cannot read ", file.string(), ": ", text.status().message()));
  return ParseIni(*text);
}

struct SharedFiles {
  std::filesystem::path credentials_file, config_file;
  IniSections credentials, config;

  // The profile's settings, credentials file over config file; nullopt when neither has it.
  std::optional<Section> Profile(const std::string& name) const {
    std::optional<Section> merged;
    auto in_config = config.find(name == "default" ? "default" : StrCat("profile ", name));
    if (in_config == config.end() && name == "default") in_config = config.find("profile default");
    if (in_config != config.end()) merged = in_config->second;
    if (auto in_credentials = credentials.find(name); in_credentials != credentials.end()) {
      if (!merged) merged.emplace();
      for (const auto& [key, value] : in_credentials->second) (*merged)[key] = value;
    }
    return merged;
  }
  std::string Where(const std::string& name) const {
    return StrCat(credentials_file.string(), " or ", config_file.string(), " (profile ", name, ")");
  }
};

// `key` of a profile's section; "" when absent.
std::string Setting(const Section& section, const char* key) {
  auto it = section.find(key);
  return it == section.end() ? std::string() : it->second;
}

// ---- reading answers ----------------------------------------------------------------------

std::string JsonString(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

}  // namespace

Result<AwsCredentials> CredentialsFromJson(std::string_view text, const std::string& from) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return BadCredentials(StrCat(from, " did not answer with JSON"));
  const json::object& object = parsed.as_object();
  AwsCredentials credentials{.access_key = JsonString(object, "AccessKeyId"),
                             .secret_key = JsonString(object, "SecretAccessKey"),
                             .session_token = JsonString(object, "Token")};
  if (credentials.session_token.empty())
    credentials.session_token = JsonString(object, "SessionToken");
  if (credentials.access_key.empty() || credentials.secret_key.empty())
    return BadCredentials(StrCat(from, " answered without AccessKeyId and SecretAccessKey"));
  if (std::string expiration = JsonString(object, "Expiration"); !expiration.empty()) {
    credentials.expires = ParseIso8601(expiration);
    if (!credentials.expires)
      return BadCredentials(StrCat(from, " answered an unreadable Expiration '", expiration, "'"));
  }
  return credentials;
}

Result<AwsCredentials> CredentialsFromStsXml(std::string_view xml, const std::string& action) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size()))
    return BadCredentials(StrCat("STS ", action, " answered something that is not XML"));
  pugi::xml_node node = doc.child(StrCat(action, "Response").c_str())
                            .child(StrCat(action, "Result").c_str())
                            .child("Credentials");
  AwsCredentials credentials{.access_key = node.child_value("AccessKeyId"),
                             .secret_key = node.child_value("SecretAccessKey"),
                             .session_token = node.child_value("SessionToken")};
  credentials.expires = ParseIso8601(node.child_value("Expiration"));
  if (credentials.access_key.empty() || credentials.secret_key.empty() || !credentials.expires)
    return BadCredentials(StrCat("STS ", action, " answered without credentials"));
  return credentials;
}

namespace {

// Unavailable for a transport failure, with `what` in front.
Status Unreachable(const Status& status, std::string_view what) {
  return Failure(absl::StatusCode::kUnavailable, std::string(CauseOf(status)),
                 StrCat(what, ": ", status.message()));
}

// ---- sources -------------------------------------------------------------------------------

class FixedSource : public AwsCredentialSource {
 public:
  FixedSource(AwsCredentials credentials, std::string description)
      : credentials_(std::move(credentials)), description_(std::move(description)) {}
  asio::awaitable<Result<AwsCredentials>> Fetch() override { co_return credentials_; }
  std::string Describe() const override { return description_; }

 private:
  AwsCredentials credentials_;
  std::string description_;
};

// Where STS calls go and what they carry.
struct StsSettings {
  std::string endpoint;  // ends without '/'
  std::string region;
  std::string session_name;
  AddressPolicy addresses;
};

asio::awaitable<Result<AwsCredentials>> CallSts(HttpClient& client, const StsSettings& sts,
                                                std::string action, std::string params,
                                                std::optional<SigV4> signer) {
  ClientRequest request;
  request.method = "POST";
  request.url = StrCat(sts.endpoint, "/");
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.body = StrCat("Action=", action, "&Version=2011-06-15&", params);
  request.sigv4 = std::move(signer);
  request.addresses = sts.addresses;
  request.timeout = runtime::Duration{30'000};
  Result<ClientResponse> response = co_await Send(client, std::move(request));
  if (!response.ok()) co_return Unreachable(response.status(), StrCat("STS at ", sts.endpoint));
  if (!response->successful()) {
    AwsError error = ParseAwsError(*response, StrCat("STS ", action));
    co_return response->status >= 500
        ? Failure(absl::StatusCode::kUnavailable, "sts_error", error.text)
        : NoCredentials(error.text);
  }
  co_return CredentialsFromStsXml(response->body, action);
}

class AssumeRoleSource : public AwsCredentialSource {
 public:
  AssumeRoleSource(HttpClient& client, StsSettings sts, std::string role_arn,
                   std::string external_id, std::unique_ptr<AwsCredentialSource> base,
                   std::string where)
      : client_(client),
        sts_(std::move(sts)),
        role_arn_(std::move(role_arn)),
        external_id_(std::move(external_id)),
        base_(std::move(base)),
        where_(std::move(where)) {}

  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    SLUICE_CO_ASSIGN_OR_RETURN(AwsCredentials base, co_await base_->Fetch());
    std::string params = StrCat("RoleArn=", AwsUriEncode(role_arn_, false),
                                "&RoleSessionName=", AwsUriEncode(sts_.session_name, false),
                                "&DurationSeconds=3600");
    if (!external_id_.empty()) StrAppend(params, "&ExternalId=", AwsUriEncode(external_id_, false));
    SigV4 signer{.access_key = base.access_key,
                 .secret_key = base.secret_key,
                 .session_token = base.session_token,
                 .region = sts_.region,
                 .service = "sts",
                 .sign_payload = false};
    co_return co_await CallSts(client_, sts_, "AssumeRole", std::move(params), std::move(signer));
  }
  std::string Describe() const override {
    return StrCat(where_, ": assume role ", role_arn_, " with ", base_->Describe());
  }

 private:
  HttpClient& client_;
  StsSettings sts_;
  std::string role_arn_, external_id_;
  std::unique_ptr<AwsCredentialSource> base_;
  std::string where_;
};

class WebIdentitySource : public AwsCredentialSource {
 public:
  WebIdentitySource(HttpClient& client, StsSettings sts, std::string role_arn,
                    std::filesystem::path token_file, std::string where)
      : client_(client),
        sts_(std::move(sts)),
        role_arn_(std::move(role_arn)),
        token_file_(std::move(token_file)),
        where_(std::move(where)) {}

  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    // Read on every fetch: the kubelet rotates the projected token.
    Result<std::string> token = ReadWholeFile(token_file_.string());
    if (!token.ok()) {
      co_return NoCredentials(
          StrCat("web identity token ", token_file_.string(), ": ", token.status().message()));
    }
    RegisterSecret(Trim(*token));
    std::string params = StrCat("RoleArn=", AwsUriEncode(role_arn_, false),
                                "&RoleSessionName=", AwsUriEncode(sts_.session_name, false),
                                "&WebIdentityToken=", AwsUriEncode(Trim(*token), false));
    // Unsigned: the token is the proof.
    co_return co_await CallSts(client_, sts_, "AssumeRoleWithWebIdentity", std::move(params),
                               std::nullopt);
  }
  std::string Describe() const override {
    return StrCat(where_, " (role ", role_arn_, ", token ", token_file_.string(), ")");
  }

 private:
  HttpClient& client_;
  StsSettings sts_;
  std::string role_arn_;
  std::filesystem::path token_file_;
  std::string where_;
};

// Runs `command` with /bin/sh and returns what it printed on stdout, waiting at most `limit`.
Result<std::string> RunCapturingOutput(const std::string& command, std::chrono::seconds limit) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "credential_process");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return NoCredentials(StrCat("credential_process: cannot start /bin/sh: ", strerror(rc)));
  }
  std::string output;
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd wait{.fd = pipe_fds[0], .events = POLLIN, .revents = 0};
    if (poll(&wait, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    char buffer[4096];
    ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    if (output.size() > (1u << 20)) break;  // no credential document is this large
    output.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return NoCredentials(StrCat("credential_process did not finish within ", limit.count(), " s"));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return NoCredentials(StrCat("credential_process failed (exit ",
                                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                                "); its stderr above says why"));
  }
  return output;
}

class ProcessSource : public AwsCredentialSource {
 public:
  ProcessSource(asio::thread_pool* blocking, std::string command, std::string where)
      : blocking_(blocking), command_(std::move(command)), where_(std::move(where)) {}

  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    if (!blocking_) co_return absl::InternalError("credential_process needs a blocking pool");
    auto run = [command = command_] {
      return RunCapturingOutput(command, std::chrono::seconds(60));
    };
    Result<std::string> output = co_await runtime::RunOn(*blocking_, std::move(run));
    SLUICE_CO_RETURN_IF_ERROR(output.status());
    boost::system::error_code ec;
    json::value parsed = json::parse(*output, ec);
    if (ec || !parsed.is_object() || !parsed.as_object().contains("Version") ||
        !parsed.as_object().at("Version").is_int64() ||
        parsed.as_object().at("Version").as_int64() != 1) {
      co_return BadCredentials(
          "credential_process did not print a JSON object with \"Version\": 1");
    }
    co_return CredentialsFromJson(*output, "credential_process");
  }
  std::string Describe() const override { return StrCat(where_, ": credential_process"); }

 private:
  asio::thread_pool* blocking_;
  std::string command_;
  std::string where_;
};

class ContainerSource : public AwsCredentialSource {
 public:
  ContainerSource(HttpClient& client, std::string url, std::string token,
                  std::filesystem::path token_file, std::chrono::milliseconds timeout)
      : client_(client),
        url_(std::move(url)),
        token_(std::move(token)),
        token_file_(std::move(token_file)),
        timeout_(timeout) {}

  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    ClientRequest request;
    request.url = url_;
    request.addresses = OnlyEndpoint(url_);
    request.connect_timeout = request.timeout = timeout_;
    std::string token = token_;
    if (!token_file_.empty()) {
      // Read on every fetch: EKS Pod Identity rotates it.
      Result<std::string> read = ReadWholeFile(token_file_.string());
      if (!read.ok()) {
        co_return NoCredentials(StrCat("container authorization token ", token_file_.string(), ": ",
                                       read.status().message()));
      }
      token = std::string(Trim(*read));
    }
    RegisterSecret(token);
    if (token.find_first_of("\r\n") != std::string::npos)
      co_return BadCredentials("the container authorization token holds a line break");
    if (!token.empty()) request.headers.emplace_back("Authorization", token);
    Result<ClientResponse> response = co_await Send(client_, std::move(request));
    if (!response.ok())
      co_return Unreachable(response.status(), StrCat("container endpoint ", url_));
    if (!response->successful()) {
      std::string text = StrCat("container endpoint ", url_, " answered HTTP ", response->status);
      co_return response->status >= 500
          ? Failure(absl::StatusCode::kUnavailable, "endpoint_error", text)
          : NoCredentials(text);
    }
    co_return CredentialsFromJson(response->body, StrCat("container endpoint ", url_));
  }
  std::string Describe() const override { return StrCat("container endpoint ", url_); }

 private:
  HttpClient& client_;
  std::string url_, token_;
  std::filesystem::path token_file_;
  std::chrono::milliseconds timeout_;
};

class InstanceMetadataSource : public AwsCredentialSource {
 public:
  InstanceMetadataSource(HttpClient& client, std::string endpoint,
                         std::chrono::milliseconds timeout)
      : client_(client), endpoint_(std::move(endpoint)), timeout_(timeout) {}

  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    // IMDSv2: a session token first. No IMDSv1 fallback: an instance that only offers v1 is
    // one an SSRF could read too.
    ClientRequest put = Request("PUT", "/latest/api/token");
    put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
    Result<ClientResponse> token = co_await Send(client_, std::move(put));
    if (!token.ok()) {
      co_return Unreachable(token.status(),
                            StrCat("instance metadata at ", endpoint_,
                                   " (in a container, an instance whose metadata "
                                   "hop limit is 1 does not answer: use IRSA or Pod Identity)"));
    }
    if (!token->successful()) {
      co_return NoCredentials(StrCat("instance metadata at ", endpoint_,
                                     " refused an IMDSv2 token: HTTP ", token->status));
    }
    std::string session(Trim(token->body));
    role_.clear();
    ClientRequest list = Request("GET", "/latest/meta-data/iam/security-credentials/");
    list.headers.emplace_back("X-aws-ec2-metadata-token", session);
    Result<ClientResponse> roles = co_await Send(client_, std::move(list));
    if (!roles.ok())
      co_return Unreachable(roles.status(), StrCat("instance metadata at ", endpoint_));
    std::string role(Trim(roles->body.substr(0, roles->body.find('\n'))));
    if (!roles->successful() || role.empty()) {
      co_return NoCredentials(StrCat("instance metadata at ", endpoint_,
                                     ": the instance has no IAM role (HTTP ", roles->status, ")"));
    }
    ClientRequest get = Request("GET", StrCat("/latest/meta-data/iam/security-credentials/", role));
    get.headers.emplace_back("X-aws-ec2-metadata-token", session);
    Result<ClientResponse> answer = co_await Send(client_, std::move(get));
    if (!answer.ok())
      co_return Unreachable(answer.status(), StrCat("instance metadata at ", endpoint_));
    if (!answer->successful()) {
      co_return NoCredentials(StrCat("instance metadata at ", endpoint_, ": role ", role,
                                     " answered HTTP ", answer->status));
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(answer->body, ec);
    if (!ec && parsed.is_object()) {
      std::string code = JsonString(parsed.as_object(), "Code");
      if (!code.empty() && code != "Success") {
        co_return NoCredentials(StrCat("instance metadata: role ", role, " answered Code ", code));
      }
    }
    role_ = role;
    co_return CredentialsFromJson(answer->body, StrCat("instance metadata role ", role));
  }
  std::string Describe() const override {
    return StrCat("instance metadata ", endpoint_,
                  role_.empty() ? "" : StrCat(" (role ", role_, ")"));
  }

 private:
  ClientRequest Request(std::string method, std::string_view path) const {
    ClientRequest request;
    request.method = std::move(method);
    request.url = StrCat(endpoint_, path);
    request.addresses = OnlyEndpoint(endpoint_);
    request.connect_timeout = request.timeout = timeout_;
    return request;
  }

  HttpClient& client_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::string role_;
};

// ---- the chain -----------------------------------------------------------------------------

class Chain {
 public:
  Chain(HttpClient& client, const AwsChainOptions& options) : client_(client), options_(options) {}

  std::optional<std::string> Env(const std::string& name) const {
    std::optional<std::string> value;
    if (options_.environment) {
      value = options_.environment(name);
    } else if (const char* raw = std::getenv(name.c_str())) {  // NOLINT(concurrency-mt-unsafe)
      value = raw;
    }
    if (value && value->empty()) value.reset();
    return value;
  }

  Result<std::unique_ptr<AwsCredentialSource>> Find() {
    // 1. Environment.
    if (std::unique_ptr<AwsCredentialSource> keys = EnvironmentKeys()) return keys;
    // 2. The shared files.
    SLUICE_RETURN_IF_ERROR(LoadFiles());
    std::optional<std::string> named = Env("AWS_PROFILE");
    std::string profile = named.value_or("default");
    if (files_.Profile(profile)) {
      std::set<std::string> visited;
      return FromProfile(profile, visited);
    }
    if (named) {
      return BadCredentials(StrCat("AWS_PROFILE=", profile, ": no such profile in ",
                                   files_.credentials_file.string(), " or ",
                                   files_.config_file.string()));
    }
    // 3. Web identity.
    std::optional<std::string> token_file = Env("AWS_WEB_IDENTITY_TOKEN_FILE");
    std::optional<std::string> role = Env("AWS_ROLE_ARN");
    if (token_file && role) {
      return std::unique_ptr<AwsCredentialSource>(std::make_unique<WebIdentitySource>(
          client_, Sts(Region("")), *role, *token_file, "web identity"));
    }
    // 4. The container endpoint.
    if (auto container = Container()) return std::move(*container);
    // 5. Instance metadata.
    if (ToLower(Env("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") {
      return Failure(absl::StatusCode::kNotFound, "no_credentials",
                     "no AWS credentials: none in the environment, the shared files, web identity "
                     "or the container endpoint, and AWS_EC2_METADATA_DISABLED=true");
    }
    return InstanceMetadata();
  }

 private:
  // AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); null when unset.
  std::unique_ptr<AwsCredentialSource> EnvironmentKeys() const {
    std::optional<std::string> key = Env("AWS_ACCESS_KEY_ID");
    std::optional<std::string> secret = Env("AWS_SECRET_ACCESS_KEY");
    if (!key || !secret) return nullptr;
    return FixedAwsCredentials({.access_key = *key,
                                .secret_key = *secret,
                                .session_token = Env("AWS_SESSION_TOKEN").value_or("")},
                               "environment (AWS_ACCESS_KEY_ID)");
  }

  Status LoadFiles() {
    std::filesystem::path home = options_.home;
    if (home.empty()) home = Env("HOME").value_or("/");
    files_.credentials_file =
        Env("AWS_SHARED_CREDENTIALS_FILE").value_or((home / ".aws/credentials").string());
    files_.config_file = Env("AWS_CONFIG_FILE").value_or((home / ".aws/config").string());
    SLUICE_ASSIGN_OR_RETURN(files_.credentials, ReadIni(files_.credentials_file));
    SLUICE_ASSIGN_OR_RETURN(files_.config, ReadIni(files_.config_file));
    return absl::OkStatus();
  }

  std::string Region(const std::string& profile_region) const {
    if (auto region = Env("AWS_REGION")) return *region;
    if (auto region = Env("AWS_DEFAULT_REGION")) return *region;
    return profile_region.empty() ? "us-east-1" : profile_region;
  }

  StsSettings Sts(const std::string& region) const {
    StsSettings sts{.region = region};
    if (auto endpoint = Env("AWS_ENDPOINT_URL_STS")) {
      sts.endpoint = *endpoint;
      sts.addresses = OnlyEndpoint(*endpoint);
    } else {
      sts.endpoint = StrCat("https://sts.", region, ".amazonaws.com");
    }
    while (!sts.endpoint.empty() && sts.endpoint.back() == '/') sts.endpoint.pop_back();
    sts.session_name =
        Env("AWS_ROLE_SESSION_NAME")
            .value_or(StrCat("sluice-", std::chrono::duration_cast<std::chrono::seconds>(
                                            Clock::now().time_since_epoch())
                                            .count()));
    return sts;
  }

  Result<std::unique_ptr<AwsCredentialSource>> FromProfile(const std::string& name,
                                                           std::set<std::string>& visited) {
    std::optional<Section> found = files_.Profile(name);
    if (!found) {
      return BadCredentials(
          StrCat("source_profile ", name, ": no such profile in ", files_.Where(name)));
    }
    const Section& profile = *found;
    auto get = [&profile](const char* key) { return Setting(profile, key); };
    std::string where = StrCat("profile ", name);
    std::string role_arn = get("role_arn");
    if (!role_arn.empty()) {
      StsSettings sts = Sts(Region(get("region")));
      if (std::string session = get("role_session_name"); !session.empty())
        sts.session_name = session;
      if (std::string token_file = get("web_identity_token_file"); !token_file.empty()) {
        return std::unique_ptr<AwsCredentialSource>(
            std::make_unique<WebIdentitySource>(client_, sts, role_arn, token_file, where));
      }
      std::unique_ptr<AwsCredentialSource> base;
      if (std::string source = get("source_profile"); !source.empty()) {
        if (!visited.insert(name).second) {
          return BadCredentials(StrCat("profile ", name, ": source_profile loops back to it"));
        }
        // A source profile's own keys sign the call even when it names a role of its own
        // (AWS CLI behaviour for a profile that is its own source).
        if (source == name) {
          SLUICE_ASSIGN_OR_RETURN(base, StaticKeys(profile, where));
        } else {
          SLUICE_ASSIGN_OR_RETURN(base, FromProfile(source, visited));
        }
      } else if (std::string source = get("credential_source"); !source.empty()) {
        if (source == "Environment") {
          base = EnvironmentKeys();
          if (!base)
            return BadCredentials(
                StrCat(where, ": credential_source Environment, but AWS_ACCESS_KEY_ID is not set"));
        } else if (source == "Ec2InstanceMetadata") {
          base = InstanceMetadata();
        } else if (source == "EcsContainer") {
          std::optional<std::unique_ptr<AwsCredentialSource>> container = Container();
          if (!container)
            return BadCredentials(StrCat(
                where, ": credential_source EcsContainer, but no container endpoint is set"));
          base = std::move(*container);
        } else {
          return BadCredentials(
              StrCat(where, ": credential_source '", source,
                     "' is not Environment, Ec2InstanceMetadata or EcsContainer"));
        }
      } else {
        return BadCredentials(StrCat(where,
                                     " names role_arn without source_profile, "
                                     "credential_source or web_identity_token_file"));
      }
      return std::unique_ptr<AwsCredentialSource>(std::make_unique<AssumeRoleSource>(
          client_, sts, role_arn, get("external_id"), std::move(base), where));
    }
    if (std::string command = get("credential_process"); !command.empty()) {
      return std::unique_ptr<AwsCredentialSource>(
          std::make_unique<ProcessSource>(options_.blocking, command, where));
    }
    return StaticKeys(profile, where);
  }

  Result<std::unique_ptr<AwsCredentialSource>> StaticKeys(const Section& profile,
                                                          const std::string& where) {
    auto get = [&profile](const char* key) { return Setting(profile, key); };
    if (get("aws_access_key_id").empty() || get("aws_secret_access_key").empty()) {
      return BadCredentials(StrCat(where,
                                   " has no aws_access_key_id and aws_secret_access_key, "
                                   "role_arn or credential_process"));
    }
    return FixedAwsCredentials({.access_key = get("aws_access_key_id"),
                                .secret_key = get("aws_secret_access_key"),
                                .session_token = get("aws_session_token")},
                               StrCat(where, " (", files_.credentials_file.string(), ")"));
  }

  // The container endpoint when configured (its URI checked by FindAwsCredentials first).
  std::optional<std::unique_ptr<AwsCredentialSource>> Container() {
    std::string url;
    if (auto relative = Env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
      url = StrCat("http://169.254.170.2", *relative);
    } else if (auto full = Env("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
      url = *full;
    } else {
      return std::nullopt;
    }
    return std::unique_ptr<AwsCredentialSource>(std::make_unique<ContainerSource>(
        client_, url, Env("AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or(""),
        Env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or(""), options_.metadata_timeout));
  }

  std::unique_ptr<AwsCredentialSource> InstanceMetadata() {
    std::string endpoint =
        Env("AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or("http://169.254.169.254");
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    return std::make_unique<InstanceMetadataSource>(client_, endpoint, options_.metadata_timeout);
  }

  HttpClient& client_;
  const AwsChainOptions& options_;
  SharedFiles files_;
};

// The SDKs' rule for a full container URI: https anywhere; plain http only to loopback or the
// ECS / EKS Pod Identity link-local addresses.
Status CheckContainerUri(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https")) {
    return BadCredentials(
        StrCat("AWS_CONTAINER_CREDENTIALS_FULL_URI '", url, "' is not an http or https URL"));
  }
  if (parsed->scheme() == "https") return absl::OkStatus();
  std::string host(parsed->encoded_host_address());
  static const std::set<std::string> kContainerHosts = {"169.254.170.2", "169.254.170.23",
                                                        "fd00:ec2::23", "localhost"};
  if (kContainerHosts.contains(host)) return absl::OkStatus();
  if (std::optional<sockaddr_storage> address = ParseIpLiteral(host)) {
    std::optional<std::string> reason =
        NonPublicReason(reinterpret_cast<const sockaddr*>(&*address));
    if (reason && reason->find("loopback") != std::string::npos) return absl::OkStatus();
  }
  return BadCredentials(StrCat("AWS_CONTAINER_CREDENTIALS_FULL_URI '", url,
                               "': plain http only to loopback, 169.254.170.2 or 169.254.170.23"));
}

}  // namespace

std::optional<Clock::time_point> ParseIso8601(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  std::string copy(text);
  if (sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(copy).substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  int offset_minutes = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hours = 0, minutes = 0;
    if (!ParseInt(rest.substr(1, 2), hours) || !ParseInt(rest.substr(4, 2), minutes))
      return std::nullopt;
    offset_minutes = (rest[0] == '-' ? -1 : 1) * (hours * 60 + minutes);
  } else {
    return std::nullopt;
  }
  // Years past 2200 would overflow the clock's nanoseconds (2262); no credential lives that long.
  if (tm.tm_year < 1970 || tm.tm_year > 2200 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
      tm.tm_sec < 0 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t seconds = timegm(&tm);
  return Clock::from_time_t(seconds) - std::chrono::minutes(offset_minutes);
}

std::unique_ptr<AwsCredentialSource> FixedAwsCredentials(AwsCredentials credentials,
                                                         std::string description) {
  return std::make_unique<FixedSource>(std::move(credentials), std::move(description));
}

Result<std::unique_ptr<AwsCredentialSource>> FindAwsCredentials(HttpClient& client,
                                                                const AwsChainOptions& options) {
  Chain chain(client, options);
  if (auto full = chain.Env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
      full && !chain.Env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    SLUICE_RETURN_IF_ERROR(CheckContainerUri(*full));
  }
  return chain.Find();
}

// ---- the provider --------------------------------------------------------------------------

std::shared_ptr<AwsCredentialProvider> AwsCredentialProvider::Create(
    asio::any_io_executor loop, std::unique_ptr<AwsCredentialSource> source, Options options) {
  return std::make_shared<AwsCredentialProvider>(std::move(loop), std::move(source), options);
}

AwsCredentialProvider::AwsCredentialProvider(asio::any_io_executor loop,
                                             std::unique_ptr<AwsCredentialSource> source,
                                             Options options)
    : loop_(loop), source_(std::move(source)), options_(options), refreshed_(loop) {
  refreshed_.expires_at(asio::steady_timer::time_point::max());
}

bool AwsCredentialProvider::Valid(Clock::time_point now) const {
  return current_ && (!current_->expires || now < *current_->expires);
}

asio::awaitable<void> AwsCredentialProvider::Refresh() {
  ++fetches_;
  Result<AwsCredentials> fetched = co_await source_->Fetch();
  refreshing_ = false;
  if (fetched.ok()) {
    RegisterSecret(fetched->secret_key);
    RegisterSecret(fetched->session_token);
    current_ = std::move(*fetched);
    last_error_ = absl::OkStatus();
    next_attempt_ = {};
  } else {
    last_error_ = fetched.status();
    next_attempt_ = Clock::now() + options_.retry_every;
  }
  refreshed_.cancel();  // wakes the waiters; the timer keeps its far expiry
}

asio::awaitable<Result<AwsCredentials>> AwsCredentialProvider::Current() {
  std::shared_ptr<AwsCredentialProvider> self = shared_from_this();
  for (;;) {
    Clock::time_point now = Clock::now();
    if (Valid(now)) {
      bool due = current_->expires && now + options_.refresh_before >= *current_->expires &&
                 now >= next_attempt_;
      if (due && !refreshing_) {
        // In the background: this request and the ones after it sign with what is current.
        refreshing_ = true;
        asio::co_spawn(loop_, self->Refresh(), asio::detached);
      }
      co_return *current_;
    }
    if (!refreshing_) {
      if (!last_error_.ok() && now < next_attempt_) co_return last_error_;
      refreshing_ = true;
      co_await Refresh();
      if (Valid(Clock::now())) continue;
      if (last_error_.ok()) {
        co_return NoCredentials(
            StrCat(source_->Describe(), " gave credentials that have expired already"));
      }
      co_return last_error_;
    }
    co_await refreshed_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace sluice::http
