#include "common/sha256.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::HexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::HexOf("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, IncrementalEqualsOneShotAndCopiesAreIndependent) {
  Sha256 h;
  h.Update("ab");
  Sha256 snapshot = h;
  h.Update("c");
  EXPECT_EQ(h.FinishHex(), Sha256::HexOf("abc"));
  snapshot.Update("x");
  EXPECT_EQ(snapshot.FinishHex(), Sha256::HexOf("abx"));
  // FinishHex resets.
  h.Update("abc");
  EXPECT_EQ(h.FinishHex(), Sha256::HexOf("abc"));
}

}  // namespace
}  // namespace sluice
