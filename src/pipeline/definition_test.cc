#include "pipeline/definition.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <fstream>

#include "methods/builtin.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

class DefinitionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(methods::RegisterBuiltinMethods(registry_).ok()); }
  Result<PipelineDef> Load(const std::string& toml) {
    std::filesystem::path file = dir_.path() / "p.toml";
    std::ofstream(file) << toml;
    return LoadPipelineFile(file, registry_);
  }
  // The error message of loading `toml`, which must fail.
  std::string Error(const std::string& toml) {
    Result<PipelineDef> loaded = Load(toml);
    EXPECT_FALSE(loaded.ok()) << toml;
    return loaded.ok() ? "" : std::string(loaded.status().message());
  }
  methods::Registry registry_;
  sluice::testing::TempDir dir_;
};

TEST_F(DefinitionTest, ConditionsParseAndEvaluate) {
  json::object results =
      boost::json::parse(R"({"image.faces": {"count": 2}, "ocr.tesseract": {"text": "SALE"}})")
          .as_object();
  auto holds = [&](const char* text) { return Condition::Parse(text)->Holds(results); };
  EXPECT_TRUE(holds("image.faces.count > 0"));
  EXPECT_TRUE(holds("image.faces.count == 2"));
  EXPECT_FALSE(holds("image.faces.count < 2"));
  EXPECT_TRUE(holds("ocr.tesseract.text == 'SALE'"));
  EXPECT_TRUE(holds("ocr.tesseract.text != \"sale\""));
  EXPECT_TRUE(holds("ocr.tesseract.text exists"));
  EXPECT_FALSE(holds("ocr.tesseract.words exists"));
  EXPECT_FALSE(holds("image.colors.palette exists"));
  EXPECT_FALSE(holds("image.faces.count > 'x'"));
  for (const char* bad :
       {"faces > 0", "image.faces.count", "image.faces.count ~ 3", "image.faces.count > ",
        "image.faces.count > [1]", "image.faces.count exists now"}) {
    EXPECT_FALSE(Condition::Parse(bad).ok()) << bad;
  }
}

TEST_F(DefinitionTest, DefaultPipelineIsValid) {
  PipelineDef def = DefaultPipeline(registry_);
  EXPECT_TRUE(ValidatePipeline(def, registry_).ok());
  ASSERT_EQ(def.cycles.size(), 1u);
  EXPECT_EQ(def.cycles[0].item_steps[2].params.at("colors").as_int64(), 5)
      << "defaults are filled in";
}

TEST_F(DefinitionTest, LoadsAValidFile) {
  Result<PipelineDef> def = Load(R"(
name = "ads"
[[cycle]]
  [[cycle.item]]
  method = "ocr.tesseract"
  when = "image.faces.count == 0"
  [[cycle.item]]
  method = "image.faces"
  kinds = ["image"]
  params = { min_neighbors = 3 }
  [[cycle.set]]
  method = "set.summary"
[[cycle]]
  [[cycle.item]]
  method = "image.phash"
  [[cycle.set]]
  method = "set.near_duplicates"
  params = { max_distance = 4 }
)");
  ASSERT_TRUE(def.ok()) << def.status();
  EXPECT_EQ(def->name, "ads");
  ASSERT_EQ(def->cycles.size(), 2u);
  EXPECT_EQ(def->cycles[0].item_steps[1].params.at("min_neighbors").as_int64(), 3);
  EXPECT_EQ(def->cycles[0].item_steps[1].params.at("min_size").as_int64(), 30);
  EXPECT_EQ(def->cycles[1].set_steps[0].params.at("max_distance").as_int64(), 4);
  EXPECT_EQ(def->cycles[0].item_steps[0].when->method, "image.faces");
}

TEST_F(DefinitionTest, MistakesAreRefusedWithTheirLine) {
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.nope\"\n")
                .find("p.toml:2: no method named 'image.nope'"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"set.summary\"\n")
                .find(":2: set.summary is a set method"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.set]]\nmethod = \"image.phash\"\n")
                .find(":2: image.phash is an item method"),
            std::string::npos);
  EXPECT_NE(
      Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.colors\"\nparams = { colours = 3 }\n")
          .find(":2: image.colors has no parameter 'colours'"),
      std::string::npos);
  EXPECT_NE(
      Error(
          "[[cycle]]\n[[cycle.item]]\nmethod = \"image.colors\"\nparams = { colors = \"five\" }\n")
          .find("must be a number"),
      std::string::npos);
  // Values a method refuses are refused when the pipeline is loaded, not on every item.
  EXPECT_NE(
      Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.colors\"\nparams = { colors = 50 }\n")
          .find(":2: colors must be between 1 and 16, not 50"),
      std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.thumbnail\"\nparams = { quality = 0 "
                  "}\n")
                .find("quality must be between 1 and 100, not 0"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.faces\"\nparams = { scale_factor = "
                  "1.0 }\n")
                .find("scale_factor must be greater than 1"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.colors\"\nkinds = [\"photo\"]\n")
                .find(":4: kinds are"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.phash\"\nkinds = [\"video\"]\n")
                .find("image.phash does not take video items"),
            std::string::npos);
  EXPECT_NE(
      Error(
          "[[cycle]]\n[[cycle.item]]\nmethod = \"ocr.tesseract\"\nwhen = \"image.faces.count >\"\n")
          .find(":4: condition"),
      std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"ocr.tesseract\"\nwhen = "
                  "\"image.faces.count > 0\"\n")
                .find("reads image.faces, which no earlier step produces"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.set]]\nmethod = \"set.near_duplicates\"\n")
                .find("reads the result of image.phash, which no earlier step produces"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.phash\"\nspeed = 3\n")
                .find(":4: unknown key 'speed'"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]]\n[[cycle.item]]\nmethod = \"image.phash\"\n[[cycle.item]]\nmethod = "
                  "\"image.phash\"\n")
                .find("appears twice"),
            std::string::npos);
  EXPECT_NE(Error("[[cycle]\n").find("p.toml:1:"), std::string::npos);
  EXPECT_NE(Error("name = \"x\"\n").find("no [[cycle]]"), std::string::npos);
  EXPECT_EQ(LoadPipelineFile(dir_.path() / "absent.toml", registry_).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice::pipeline
