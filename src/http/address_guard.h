// The SSRF guard of the fetcher (DESIGN.md §6): which network addresses an untrusted URL may
// reach. The fetcher applies it to the address it is about to connect to (after DNS, on every
// redirect hop), so a hostname that resolves to 127.0.0.1 — DNS rebinding — is refused just like
// a literal one.
//
// Thread-safe: pure functions and an immutable policy.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::http {

// Why an address is not public, e.g. "loopback", "private", "link-local", "cgnat",
// "unique-local", "multicast", "unspecified", "reserved", "ipv4-mapped loopback".
// std::nullopt for an ordinary public unicast address.
std::optional<std::string> NonPublicReason(const sockaddr* address);

// Parses the host part of a URL when it is an IP literal in any spelling that resolvers accept:
// dotted quad, shortened ("127.1"), decimal ("2130706433"), octal ("0177.0.0.1"), hex
// ("0x7f000001"), or bracketed IPv6. std::nullopt for a hostname.
std::optional<sockaddr_storage> ParseIpLiteral(std::string_view host);

// "1.2.3.4" or "::1".
std::string AddressToString(const sockaddr* address);
int PortOf(const sockaddr* address);

struct AddressPolicy {
  // Allow every non-public address (--allow-private). Default false.
  bool allow_private = false;
  // Exact endpoints allowed although non-public: "127.0.0.1" (any port) or "127.0.0.1:8080",
  // "[::1]:8080". For a known internal server, without opening every private range.
  std::vector<std::string> allowed_endpoints;

  // OK when `address` may be connected to; PermissionDenied (cause "blocked_address") naming
  // the address and the reason otherwise.
  Status Check(const sockaddr* address) const;
};

// Validates an `--allow-address` value. InvalidArgument when it is not ADDR or ADDR:PORT.
Status ValidateEndpoint(std::string_view endpoint);

}  // namespace sluice::http
