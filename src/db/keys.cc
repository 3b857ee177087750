#include "db/keys.h"

#include <random>

namespace sluice::db {

std::string NewApiKeySecret() {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::random_device random;  // the kernel's source (getrandom)
  std::string key = "sk_";
  for (int i = 0; i < 40; ++i) key.push_back(kDigits[random() % 16]);
  return key;
}

}  // namespace sluice::db
