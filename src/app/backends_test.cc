#include "app/backends.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "testing/temp_dir.h"

namespace sluice::app {
namespace {

class BackendsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("SLUICE_DB");
    unsetenv("SLUICE_STORE");
  }
  void TearDown() override { SetUp(); }
  std::filesystem::path Config(const std::string& text) {
    std::filesystem::path file = dir_.path() / "sluice.toml";
    std::ofstream(file) << text;
    return file;
  }
  sluice::testing::TempDir dir_;
};

TEST_F(BackendsTest, FlagsThenEnvironmentThenConfigFile) {
  std::filesystem::path config =
      Config("[providers]\n[backends]\ndb = \"postgres://cfg/db\"\nstore = \"s3://cfg/x\"\n");
  EXPECT_EQ(ResolveBackends({}, config)->db, "postgres://cfg/db");
  EXPECT_EQ(ResolveBackends({}, config)->store, "s3://cfg/x");
  setenv("SLUICE_DB", "postgres://env/db", 1);
  EXPECT_EQ(ResolveBackends({}, config)->db, "postgres://env/db");
  EXPECT_EQ(ResolveBackends({}, config)->store, "s3://cfg/x");
  EXPECT_EQ(ResolveBackends({.db = "sqlite:///tmp/x.db"}, config)->db, "sqlite:///tmp/x.db");
  Result<Backends> none = ResolveBackends({}, {});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->store, "") << "empty means the data directory";
}

TEST_F(BackendsTest, MistakesNameTheLine) {
  Result<Backends> unknown = ResolveBackends({}, Config("[backends]\n\ndatabase = \"x\"\n"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("sluice.toml:3"), std::string::npos)
      << unknown.status();
  EXPECT_NE(unknown.status().message().find("known: db, store"), std::string::npos);
  Result<Backends> typed = ResolveBackends({}, Config("[backends]\ndb = 5\n"));
  EXPECT_EQ(typed.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::app
