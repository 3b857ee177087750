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
        return XmlReply(403,
                        "<ErrorResponse><Error><Code>MissingAuthenticationToken</Code>"
                        "<Message>unsigned</Message></Error></ErrorResponse>");
      }
    } else if (action == "AssumeRoleWithWebIdentity") {
      if (FormValue(request.body, "WebIdentityToken") != kWebToken) {
        return XmlReply(400,
                        "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
                        "<Message>bad token</Message></Error></ErrorResponse>");
      }
    } else {
      return XmlReply(400,
                      "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>");
    }
    Issued issued = Issue();
    return XmlReply(
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
