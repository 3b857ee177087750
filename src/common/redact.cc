#include "common/redact.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>

#include "common/strings.h"

namespace sluice {
namespace {

constexpr std::string_view kHidden = "***";
constexpr size_t kMinimumSecret = 8;
constexpr size_t kKeptSecrets = 1000;

struct Registry {
  std::mutex mu;
  std::deque<std::string> values;  // oldest first
};

Registry& Secrets() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

bool EndsToken(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' ||
         c == '>' || c == '`' || c == ')' || c == ']' || c == ',';
}

// user:password@ inside each URL authority.
void HideUserinfoPasswords(std::string& text) {
  size_t from = 0;
  while ((from = text.find("://", from)) != std::string::npos) {
    size_t start = from + 3;
    size_t end = start;
    while (end < text.size() && !EndsToken(text[end]) && text[end] != '/' && text[end] != '?' &&
           text[end] != '#')
      ++end;
    size_t at = text.rfind('@', end);
    if (at != std::string::npos && at >= start && at < end) {
      size_t colon = text.find(':', start);
      if (colon != std::string::npos && colon < at &&
          text.compare(colon + 1, at - colon - 1, kHidden) != 0) {
        text.replace(colon + 1, at - colon - 1, kHidden);
        end = colon + 1 + kHidden.size() + (end - at);
      }
    }
    from = std::max(end, start);
  }
}

bool SecretParameter(std::string name) {
  name = ToLower(name);
  static const std::set<std::string, std::less<>> kNames = {"x-amz-signature",
                                                            "x-amz-security-token",
                                                            "x-amz-credential",
                                                            "x-goog-signature",
                                                            "x-goog-credential",
                                                            "signature",
                                                            "sig",
                                                            "token",
                                                            "access_token",
                                                            "id_token",
                                                            "refresh_token",
                                                            "api_key",
                                                            "apikey",
                                                            "api-key",
                                                            "key",
                                                            "password",
                                                            "passwd",
                                                            "secret",
                                                            "client_secret",
                                                            "auth",
                                                            "session_token"};
  return kNames.contains(name);
}

// ?name=value&… where name carries credentials.
void HideSecretParameters(std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '?' && text[i] != '&') continue;
    size_t name_start = i + 1;
    size_t equals = name_start;
    while (equals < text.size() && text[equals] != '=' && text[equals] != '&' &&
           !EndsToken(text[equals]))
      ++equals;
    if (equals >= text.size() || text[equals] != '=' || equals == name_start) continue;
    if (!SecretParameter(text.substr(name_start, equals - name_start))) continue;
    size_t value_end = equals + 1;
    while (value_end < text.size() && text[value_end] != '&' && text[value_end] != '#' &&
           !EndsToken(text[value_end]))
      ++value_end;
    if (value_end == equals + 1) continue;
    text.replace(equals + 1, value_end - equals - 1, kHidden);
    i = equals + kHidden.size();
  }
}

// "Bearer TOKEN" and "sk-…" keys.
void HideTokens(std::string& text) {
  for (std::string_view marker : {std::string_view("Bearer "), std::string_view("bearer ")}) {
    size_t from = 0;
    while ((from = text.find(marker, from)) != std::string::npos) {
      size_t start = from + marker.size();
      size_t end = start;
      while (end < text.size() && !EndsToken(text[end])) ++end;
      if (end > start && text.compare(start, end - start, kHidden) != 0)
        text.replace(start, end - start, kHidden);
      from = start + kHidden.size();
    }
  }
  size_t from = 0;
  while ((from = text.find("sk-", from)) != std::string::npos) {
    bool word_start =
        from == 0 || EndsToken(text[from - 1]) || text[from - 1] == ':' || text[from - 1] == '=';
    size_t end = from + 3;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                 text[end] == '-' || text[end] == '_'))
      ++end;
    if (word_start && end - from >= 3 + 16) {
      text.replace(from + 3, end - from - 3, kHidden);
      end = from + 3 + kHidden.size();
    }
    from = end;
  }
}

void HideRegistered(std::string& text) {
  Registry& registry = Secrets();
  std::lock_guard lock(registry.mu);
  for (const std::string& secret : registry.values) {
    size_t from = 0;
    while ((from = text.find(secret, from)) != std::string::npos) {
      text.replace(from, secret.size(), kHidden);
      from += kHidden.size();
    }
  }
}

}  // namespace

void RegisterSecret(std::string_view value) {
  if (value.size() < kMinimumSecret) return;
  Registry& registry = Secrets();
  std::lock_guard lock(registry.mu);
  if (std::find(registry.values.begin(), registry.values.end(), value) != registry.values.end())
    return;
  registry.values.emplace_back(value);
  if (registry.values.size() > kKeptSecrets) registry.values.pop_front();
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  HideRegistered(out);
  HideUserinfoPasswords(out);
  HideSecretParameters(out);
  HideTokens(out);
  return out;
}

Status RedactSecrets(const Status& status) {
  if (status.ok()) return status;
  std::string_view original(status.message().data(), status.message().size());
  std::string message = RedactSecrets(original);
  if (message == original) return status;
  Status redacted(status.code(), absl::string_view(message.data(), message.size()));
  status.ForEachPayload([&redacted](absl::string_view url, const absl::Cord& payload) {
    redacted.SetPayload(url, payload);
  });
  return redacted;
}

}  // namespace sluice
