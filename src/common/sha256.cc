#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace sluice {
namespace {

// The digest's implementation, looked up once: OpenSSL 3 looks `EVP_sha256()` up in its
// provider tables (under a lock) on every init otherwise, which cost more than hashing a
// step key.
const EVP_MD* Sha256Digest() {
  static const EVP_MD* digest = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return digest;
}

}  // namespace

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) { Reset(); }
Sha256::~Sha256() = default;
Sha256::Sha256(const Sha256& other) : ctx_(std::make_unique<Ctx>()) {
  EVP_MD_CTX_copy_ex(ctx_->md, other.ctx_->md);
}
Sha256& Sha256::operator=(const Sha256& other) {
  if (this != &other) EVP_MD_CTX_copy_ex(ctx_->md, other.ctx_->md);
  return *this;
}

void Sha256::Reset() {
  // Only allocation failure can make this fail, and then nothing sensible can continue.
  if (EVP_DigestInit_ex(ctx_->md, Sha256Digest(), nullptr) != 1) std::abort();
}

void Sha256::Update(std::span<const std::byte> data) {
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}
void Sha256::Update(std::string_view data) { EVP_DigestUpdate(ctx_->md, data.data(), data.size()); }

std::string Sha256::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_->md, digest, &length);
  Reset();
  return ToHex({digest, length});
}

std::string Sha256::HexOf(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, Sha256Digest(), nullptr) != 1)
    std::abort();  // as in Reset: only allocation failure
  return ToHex({digest, length});
}

std::string ToHex(std::span<const unsigned char> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace sluice
