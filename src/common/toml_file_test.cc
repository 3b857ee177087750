#include "common/toml_file.h"

#include <gtest/gtest.h>

#include <fstream>

namespace sluice {
namespace {

class TomlFileTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& text) {
    std::filesystem::path file = std::filesystem::temp_directory_path() /
                                 ("sluice-toml-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(file) << text;
    written_ = file;
    return file;
  }
  void TearDown() override { std::filesystem::remove(written_); }
  std::filesystem::path written_;
};

TEST_F(TomlFileTest, ErrorsNameTheFileAndLine) {
  std::filesystem::path file = Write("a = 1\n[table]\nb = \"x\"\n");
  Result<TomlFile> parsed = TomlFile::Parse(file, "config file");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const toml::node* b = parsed->root()["table"]["b"].node();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(parsed->ErrorAt(*b, "b must be a number").message(),
            file.string() + ":3: b must be a number");
  EXPECT_EQ(parsed->Error("no [cycle]").message(), file.string() + ": no [cycle]");

  Result<TomlFile> broken = TomlFile::Parse(Write("a = 1\nb = = 2\n"), "pipeline file");
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(std::string(broken.status().message()).starts_with(file.string() + ":2: "))
      << broken.status();
  Result<TomlFile> missing = TomlFile::Parse("/nonexistent/x.toml", "pipeline file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "cannot read the pipeline file /nonexistent/x.toml");
}

}  // namespace
}  // namespace sluice
