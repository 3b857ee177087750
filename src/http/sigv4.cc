#include "http/sigv4.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <ctime>

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice::http {
namespace {

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string AmzDate(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// Header values are signed trimmed, with inner runs of spaces folded to one.
std::string CanonicalValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : Trim(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (std::string_view part : Split(query, "&")) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto decode = [](std::string_view text) {
      auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      std::string out;
      for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
            hex(text[i + 2]) >= 0) {
          out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
          i += 2;
        } else {
          out += text[i];
        }
      }
      return out;
    };
    std::string_view name = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    params.emplace_back(AwsUriEncode(decode(name), false), AwsUriEncode(decode(value), false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) StrAppend(out, out.empty() ? "" : "&", name, "=", value);
  return out;
}

}  // namespace

std::string AwsUriEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<SignedRequest> SignV4(const SigV4& credentials, std::string_view method,
                             std::string_view url, const HeaderList& headers, std::string_view body,
                             std::chrono::system_clock::time_point now) {
  boost::system::result<boost::urls::url_view> parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return Failure(absl::StatusCode::kInvalidArgument, "bad_url",
                   StrCat("'", url, "' is not a URL"));
  }
  SignedRequest signed_request{.headers = headers};
  HeaderList& out = signed_request.headers;
  auto find = [&out](std::string_view name) -> std::string* {
    for (auto& [n, v] : out) {
      if (ToLower(n) == name) return &v;
    }
    return nullptr;
  };
  if (!find("host")) {
    std::string host(parsed->encoded_host());
    if (parsed->has_port()) StrAppend(host, ":", parsed->port());
    out.emplace_back("Host", host);
  }
  if (!find("x-amz-date")) out.emplace_back("X-Amz-Date", AmzDate(now));
  std::string payload_hash = Sha256::HexOf(body);
  if (credentials.sign_payload && !find("x-amz-content-sha256"))
    out.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty() && !find("x-amz-security-token"))
    out.emplace_back("x-amz-security-token", credentials.session_token);
  std::string amz_date = *find("x-amz-date");
  std::string date = amz_date.substr(0, 8);

  std::vector<std::pair<std::string, std::string>> canonical;
  for (const auto& [name, value] : out)
    canonical.emplace_back(ToLower(name), CanonicalValue(value));
  std::sort(canonical.begin(), canonical.end());
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : canonical) {
    StrAppend(canonical_headers, name, ":", value, "\n");
    StrAppend(signed_headers, signed_headers.empty() ? "" : ";", name);
  }
  std::string path =
      parsed->encoded_path().empty() ? std::string("/") : std::string(parsed->encoded_path());
  // S3 signs the path as sent; every other service signs it encoded once more.
  std::string canonical_path = credentials.service == "s3" ? path : AwsUriEncode(path, true);
  signed_request.canonical_request =
      StrCat(method, "\n", canonical_path, "\n", CanonicalQuery(parsed->encoded_query()), "\n",
             canonical_headers, "\n", signed_headers, "\n", payload_hash);
  std::string scope =
      StrCat(date, "/", credentials.region, "/", credentials.service, "/aws4_request");
  signed_request.string_to_sign = StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n",
                                         Sha256::HexOf(signed_request.canonical_request));
  std::string key = Hmac(StrCat("AWS4", credentials.secret_key), date);
  key = Hmac(key, credentials.region);
  key = Hmac(key, credentials.service);
  key = Hmac(key, "aws4_request");
  std::string signature = Hmac(key, signed_request.string_to_sign);
  out.emplace_back(
      "Authorization",
      StrCat("AWS4-HMAC-SHA256 Credential=", credentials.access_key, "/", scope,
             ", SignedHeaders=", signed_headers, ", Signature=",
             ToHex({reinterpret_cast<const unsigned char*>(signature.data()), signature.size()})));
  return signed_request;
}

}  // namespace sluice::http
