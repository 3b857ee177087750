#include "http/address_guard.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

std::optional<std::string> ReasonFor(const std::string& host) {
  std::optional<sockaddr_storage> address = ParseIpLiteral(host);
  EXPECT_TRUE(address.has_value()) << host;
  if (!address) return "unparsed";
  return NonPublicReason(reinterpret_cast<const sockaddr*>(&*address));
}

TEST(AddressGuardTest, RefusesEveryNonPublicRange) {
  for (const char* host : {"127.0.0.1",
                           "127.255.255.254",
                           "10.0.0.1",
                           "172.16.0.1",
                           "172.31.255.255",
                           "192.168.1.1",
                           "169.254.169.254",
                           "100.64.0.1",
                           "100.127.255.255",
                           "0.0.0.0",
                           "0.1.2.3",
                           "224.0.0.1",
                           "239.255.255.250",
                           "255.255.255.255",
                           "240.0.0.1",
                           "198.18.0.1",
                           "192.0.2.1",
                           "[::1]",
                           "::",
                           "fc00::1",
                           "fd12:3456::1",
                           "fe80::1",
                           "ff02::1",
                           "::ffff:127.0.0.1",
                           "::ffff:10.0.0.1",
                           "::ffff:169.254.169.254",
                           "::127.0.0.1",
                           "64:ff9b::a00:1",
                           "2002:a00:1::",
                           "[fe80::1%25eth0]"}) {
    EXPECT_TRUE(ReasonFor(host).has_value()) << host << " should be refused";
  }
}

TEST(AddressGuardTest, AcceptsPublicAddresses) {
  for (const char* host : {"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1",
                           "2606:4700::1111", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(ReasonFor(host).has_value()) << host << " should be allowed";
  }
}

TEST(AddressGuardTest, ParsesEveryIpv4Spelling) {
  for (const char* spelling :
       {"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "017700000001"}) {
    std::optional<sockaddr_storage> address = ParseIpLiteral(spelling);
    ASSERT_TRUE(address.has_value()) << spelling;
    EXPECT_EQ(AddressToString(reinterpret_cast<sockaddr*>(&*address)), "127.0.0.1") << spelling;
    EXPECT_EQ(*NonPublicReason(reinterpret_cast<sockaddr*>(&*address)), "loopback");
  }
  EXPECT_FALSE(ParseIpLiteral("example.com").has_value());
  EXPECT_FALSE(ParseIpLiteral("").has_value());
}

TEST(AddressGuardTest, PolicyNamesAddressAndReasonAndHonoursAllowances) {
  sockaddr_storage address = *ParseIpLiteral("127.0.0.1");
  auto* sa = reinterpret_cast<sockaddr_in*>(&address);
  sa->sin_port = htons(8080);
  AddressPolicy strict;
  Status refused = strict.Check(reinterpret_cast<sockaddr*>(&address));
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CauseOf(refused), "blocked_address");
  EXPECT_NE(refused.message().find("127.0.0.1 (loopback"), std::string::npos) << refused;

  EXPECT_TRUE(
      AddressPolicy{.allow_private = true}.Check(reinterpret_cast<sockaddr*>(&address)).ok());
  EXPECT_TRUE(AddressPolicy{.allowed_endpoints = {"127.0.0.1"}}
                  .Check(reinterpret_cast<sockaddr*>(&address))
                  .ok());
  EXPECT_TRUE(AddressPolicy{.allowed_endpoints = {"127.0.0.1:8080"}}
                  .Check(reinterpret_cast<sockaddr*>(&address))
                  .ok());
  EXPECT_FALSE(AddressPolicy{.allowed_endpoints = {"127.0.0.1:9090"}}
                   .Check(reinterpret_cast<sockaddr*>(&address))
                   .ok());
  EXPECT_FALSE(AddressPolicy{.allowed_endpoints = {"127.0.0.2"}}
                   .Check(reinterpret_cast<sockaddr*>(&address))
                   .ok());
}

TEST(AddressGuardTest, ValidatesEndpoints) {
  EXPECT_TRUE(ValidateEndpoint("127.0.0.1").ok());
  EXPECT_TRUE(ValidateEndpoint("127.0.0.1:80").ok());
  EXPECT_TRUE(ValidateEndpoint("[::1]:80").ok());
  EXPECT_TRUE(ValidateEndpoint("::1").ok());
  EXPECT_FALSE(ValidateEndpoint("localhost").ok());
  EXPECT_FALSE(ValidateEndpoint("127.0.0.1:99999").ok());
  EXPECT_FALSE(ValidateEndpoint("127.0.0.1:x").ok());
}

}  // namespace
}  // namespace sluice::http
