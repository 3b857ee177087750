// Incremental SHA-256 (OpenSSL; uses the CPU's SHA extensions where present).
//
// One instance per stream; not thread-safe. Copyable, so a caller can snapshot the state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sluice {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256& other);
  Sha256& operator=(const Sha256& other);

  void Update(std::span<const std::byte> data);
  void Update(std::string_view data);
  // Returns the lowercase hex digest of everything passed to Update since construction or
  // the last Reset. The instance is reset afterwards.
  std::string FinishHex();
  void Reset();

  // Hex digest of `data` in one call.
  static std::string HexOf(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lowercase hex of `bytes`.
std::string ToHex(std::span<const unsigned char> bytes);

// Whether `text` is a digest as FinishHex writes it (64 lowercase hex digits): how stored
// content is named.
bool IsSha256Hex(std::string_view text);

}  // namespace sluice
