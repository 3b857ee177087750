#include "testing/aws_fakes.h"

#include <ctime>

#include "common/strings.h"

namespace sluice::testing {
namespace {

using http::HttpReply;
using http::HttpRequest;

std::string Iso8601(std::chrono::system_clock::time_point when) {
  time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The value of `name` in an application/x-www-form-urlencoded body.
std::string FormValue(const std::string& body, const std::string& name) {
  std::string_view rest = body;
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    if (pair.substr(0, pair.find('=')) != name) continue;
    std::string_view encoded = pair.substr(std::min(pair.size(), name.size() + 1));
    std::string value;
    for (size_t i = 0; i < encoded.size(); ++i) {
      if (encoded[i] == '%' && i + 2 < encoded.size()) {
        value += static_cast<char>(std::stoi(std::string(encoded.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        value += encoded[i] == '+' ? ' ' : encoded[i];
      }
    }
    return value;
  }
  return "";
}

HttpReply Xml(int status, std::string body) {
  return HttpReply{
      .status = status, .headers = {{"Content-Type", "text/xml"}}, .body = std::move(body)};
}

}  // namespace

FakeAws::FakeAws(std::chrono::seconds lifetime) : lifetime_(lifetime) {
  origin_.Route("/sts/", [this](const HttpRequest& request, int) {
    std::string action = FormValue(request.body, "Action");
    if (action == "AssumeRole") {
      std::string authorization = request.Header("authorization");
      size_t at = authorization.find("Credential=");
      std::string signer =
          at == std::string::npos
              ? ""
              : authorization.substr(at + 11, authorization.find('/', at) - at - 11);
      {
        std::lock_guard lock(mu_);
        assume_role_signer_ = signer;
      }
      if (signer.empty()) {
        return Xml(403,
                   "<ErrorResponse><Error><Code>MissingAuthenticationToken</Code>"
                   "<Message>unsigned</Message></Error></ErrorResponse>");
      }
    } else if (action == "AssumeRoleWithWebIdentity") {
      if (FormValue(request.body, "WebIdentityToken") != kWebToken) {
        return Xml(400,
                   "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
                   "<Message>bad token</Message></Error></ErrorResponse>");
      }
    } else {
      return Xml(400, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>");
    }
    Issued issued = Issue();
    return Xml(
        200,
        StrCat("<", action, "Response><", action, "Result><Credentials><AccessKeyId>", issued.key,
               "</AccessKeyId><SecretAccessKey>", issued.secret, "</SecretAccessKey><SessionToken>",
               issued.token, "</SessionToken><Expiration>", issued.expiration,
               "</Expiration></Credentials></", action, "Result></", action, "Response>"));
  });
  origin_.Route("/latest/api/token", [](const HttpRequest& request, int) {
    if (request.method != "PUT" || request.Header("x-aws-ec2-metadata-token-ttl-seconds").empty())
      return HttpReply{.status = 400};
    return HttpReply{.body = "imds-session-token"};
  });
  origin_.Route("/latest/meta-data/iam/security-credentials/", [](const HttpRequest& request, int) {
    if (request.Header("x-aws-ec2-metadata-token") != "imds-session-token")
      return HttpReply{.status = 401};
    return HttpReply{.body = kRole};
  });
  origin_.Route(
      StrCat("/latest/meta-data/iam/security-credentials/", kRole),
      [this](const HttpRequest& request, int) {
        if (request.Header("x-aws-ec2-metadata-token") != "imds-session-token")
          return HttpReply{.status = 401};
        Issued issued = Issue();
        return HttpReply{.body = StrCat(R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":")",
                                        issued.key, R"(","SecretAccessKey":")", issued.secret,
                                        R"(","Token":")", issued.token, R"(","Expiration":")",
                                        issued.expiration, R"("})")};
      });
  origin_.Route("/container/creds", [this](const HttpRequest& request, int) {
    if (request.Header("authorization") != kContainerToken) return HttpReply{.status = 401};
    Issued issued = Issue();
    return HttpReply{.body = StrCat(R"({"AccessKeyId":")", issued.key, R"(","SecretAccessKey":")",
                                    issued.secret, R"(","Token":")", issued.token,
                                    R"(","Expiration":")", issued.expiration, R"("})")};
  });
}

FakeAws::Issued FakeAws::Issue() {
  std::lock_guard lock(mu_);
  ++issued_;
  auto expires = std::chrono::system_clock::now() + lifetime_;
  Issued issued{.key = fixed_key_.empty() ? StrCat("ASIA", issued_) : fixed_key_,
                .secret = fixed_key_.empty() ? StrCat("secret-", issued_) : fixed_secret_,
                .token = StrCat("session-", issued_),
                .expiration = Iso8601(expires)};
  expiry_[fixed_key_.empty() ? issued.key : issued.token] = expires;
  return issued;
}

int FakeAws::issued() const {
  std::lock_guard lock(mu_);
  return issued_;
}

bool FakeAws::Valid(const std::string& access_key) const {
  std::lock_guard lock(mu_);
  auto it = expiry_.find(access_key);
  return it != expiry_.end() && std::chrono::system_clock::now() < it->second;
}

std::string FakeAws::assume_role_signer() const {
  std::lock_guard lock(mu_);
  return assume_role_signer_;
}

void FakeAws::set_fixed_keys(std::string access_key, std::string secret_key) {
  std::lock_guard lock(mu_);
  fixed_key_ = std::move(access_key);
  fixed_secret_ = std::move(secret_key);
}

void FakeAws::set_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(mu_);
  lifetime_ = lifetime;
}

}  // namespace sluice::testing
