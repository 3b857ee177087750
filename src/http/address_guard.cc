#include "http/address_guard.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "common/strings.h"

namespace sluice::http {
namespace {

struct Range4 {
  uint32_t base;
  int prefix;
  const char* reason;
};

// IANA special-purpose IPv4 registry, the parts a fetcher of public URLs must not reach.
constexpr std::array<Range4, 16> kNonPublic4 = {{
    {0x00000000, 8, "unspecified"},     // 0.0.0.0/8 ("this network"; 0.0.0.0 reaches local)
    {0x0A000000, 8, "private"},         // 10/8
    {0x64400000, 10, "cgnat"},          // 100.64/10
    {0x7F000000, 8, "loopback"},        // 127/8
    {0xA9FE0000, 16, "link-local"},     // 169.254/16 (cloud metadata 169.254.169.254)
    {0xAC100000, 12, "private"},        // 172.16/12
    {0xC0000000, 24, "reserved"},       // 192.0.0/24 (IETF protocol assignments)
    {0xC0000200, 24, "documentation"},  // 192.0.2/24
    {0xC0586300, 24, "reserved"},       // 192.88.99/24 (6to4 relay anycast)
    {0xC0A80000, 16, "private"},        // 192.168/16
    {0xC6120000, 15, "benchmarking"},   // 198.18/15
    {0xC6336400, 24, "documentation"},  // 198.51.100/24
    {0xCB007100, 24, "documentation"},  // 203.0.113/24
    {0xE0000000, 4, "multicast"},       // 224/4
    {0xF0000000, 4, "reserved"},        // 240/4, includes 255.255.255.255
    {0x00000000, 32, "unspecified"},
}};

std::optional<std::string> NonPublicReason4(uint32_t host_order) {
  for (const Range4& r : kNonPublic4) {
    uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    if ((host_order & mask) == r.base) return r.reason;
  }
  return std::nullopt;
}

uint32_t V4At(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

std::optional<std::string> NonPublicReason6(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  auto zero = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  if (zero(0, 16)) return "unspecified";
  if (zero(0, 15) && b[15] == 1) return "loopback";
  // Embedded IPv4 forms reach the IPv4 host: judge that host.
  auto embedded = [&](const char* form, uint32_t v4) -> std::optional<std::string> {
    if (auto reason = NonPublicReason4(v4)) return StrCat(form, " ", *reason);
    return std::nullopt;
  };
  if (zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return embedded("ipv4-mapped", V4At(b + 12));
  if (zero(0, 12)) {
    // IPv4-compatible (deprecated): never legitimate on the public internet.
    auto reason = embedded("ipv4-compatible", V4At(b + 12));
    return reason ? reason : std::optional<std::string>("ipv4-compatible");
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12)) {
    return embedded("nat64", V4At(b + 12));  // 64:ff9b::/96
  }
  if (b[0] == 0x20 && b[1] == 0x02) return embedded("6to4", V4At(b + 2));  // 2002::/16
  if ((b[0] & 0xfe) == 0xfc) return "unique-local";                        // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";          // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";          // fec0::/10
  if (b[0] == 0xff) return "multicast";                                    // ff00::/8
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation";
  if (b[0] == 0x01 && zero(1, 8)) return "discard";  // 100::/64
  return std::nullopt;
}

}  // namespace

std::optional<std::string> NonPublicReason(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return NonPublicReason4(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    return NonPublicReason6(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  }
  return "not an internet address";
}

std::optional<sockaddr_storage> ParseIpLiteral(std::string_view host) {
  sockaddr_storage out{};
  std::string text(host);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
    if (auto zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return out;
  }
  // inet_aton accepts every legacy spelling (decimal, octal, hex, 1-4 parts), as resolvers do.
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (!text.empty() && inet_aton(text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return out;
  }
  return std::nullopt;
}

std::string AddressToString(const sockaddr* address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, buffer,
              sizeof buffer);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, buffer,
              sizeof buffer);
  }
  return buffer;
}

int PortOf(const sockaddr* address) {
  if (address->sa_family == AF_INET)
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  if (address->sa_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  return 0;
}

namespace {

// Splits "ADDR", "ADDR:PORT", "[V6]" or "[V6]:PORT". Port -1 when absent.
bool SplitEndpoint(std::string_view endpoint, std::string& host, int& port) {
  port = -1;
  std::string_view port_text;
  if (!endpoint.empty() && endpoint.front() == '[') {
    size_t close = endpoint.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(endpoint.substr(0, close + 1));
    std::string_view rest = endpoint.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
    }
  } else if (size_t colon = endpoint.find(':'); colon != std::string_view::npos) {
    if (endpoint.find(':', colon + 1) != std::string_view::npos) {
      host = std::string(endpoint);  // bare IPv6 without port
    } else {
      host = std::string(endpoint.substr(0, colon));
      port_text = endpoint.substr(colon + 1);
    }
  } else {
    host = std::string(endpoint);
  }
  if (!port_text.empty() && (!ParseInt(port_text, port) || port < 1 || port > 65535)) return false;
  return ParseIpLiteral(host).has_value();
}

bool SameAddress(const sockaddr* a, const sockaddr_storage& b) {
  return AddressToString(a) == AddressToString(reinterpret_cast<const sockaddr*>(&b));
}

}  // namespace

Status ValidateEndpoint(std::string_view endpoint) {
  std::string host;
  int port;
  if (!SplitEndpoint(endpoint, host, port)) {
    return absl::InvalidArgumentError(
        StrCat("'", endpoint, "' is not an IP address with an optional port (ADDR or ADDR:PORT)"));
  }
  return absl::OkStatus();
}

Status AddressPolicy::Check(const sockaddr* address) const {
  std::optional<std::string> reason = NonPublicReason(address);
  if (!reason || allow_private) return absl::OkStatus();
  for (const std::string& endpoint : allowed_endpoints) {
    std::string host;
    int port;
    if (!SplitEndpoint(endpoint, host, port)) continue;
    if (SameAddress(address, *ParseIpLiteral(host)) && (port < 0 || port == PortOf(address))) {
      return absl::OkStatus();
    }
  }
  return Failure(absl::StatusCode::kPermissionDenied, "blocked_address",
                 StrCat("refused to connect to ", AddressToString(address), " (", *reason,
                        " address; pass --allow-private to allow)"));
}

}  // namespace sluice::http
