#include <gtest/gtest.h>

#include "methods/builtin.h"
#include "methods/execute.h"
#include "methods/registry.h"

namespace sluice::methods {
namespace {

SetItem Image(std::string name, std::string phash, json::array palette = {},
              json::array words = {}) {
  SetItem item{.url = "http://x/" + name, .sha256 = name, .kind = "image", .ok = true};
  item.results["image.phash"] = json::object{{"phash", phash}};
  if (!palette.empty()) item.results["image.colors"] = json::object{{"palette", palette}};
  if (!words.empty()) item.results["ocr.tesseract"] = json::object{{"words", words}};
  return item;
}

class SetMethodsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBuiltinMethods(registry_).ok()); }
  StepResult Run(const std::string& name, const std::vector<SetItem>& items,
                 json::object params = {}) {
    const auto* method = dynamic_cast<const SetMethod*>(registry_.Find(name));
    return rt_.Run(
        ExecuteSetStep(*method, items, *ResolveParams(method->spec(), params), {.runtime = &rt_}));
  }
  runtime::Runtime rt_;
  Registry registry_;
};

TEST_F(SetMethodsTest, NearDuplicatesGroupsByHammingDistance) {
  std::vector<SetItem> items = {Image("a", "ffff0000ffff0000"),
                                Image("b", "ffff0000ffff0003"),  // 2 bits from a
                                Image("c", "0000ffff0000ffff"),  // far
                                Image("d", "ffff0000ffff0000"),  // exact copy of a
                                SetItem{.url = "http://x/failed", .kind = "image", .ok = false}};
  StepResult step = Run("set.near_duplicates", items);
  ASSERT_TRUE(step.status.ok()) << step.status;
  json::array groups = step.output.at("groups").as_array();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].as_array().size(), 3u);
  EXPECT_EQ(step.output.at("images_compared").as_int64(), 4);
  StepResult strict = Run("set.near_duplicates", items, {{"max_distance", 0}});
  EXPECT_EQ(strict.output.at("groups").as_array()[0].as_array().size(), 2u);
  // The step key depends on the items: another set gives another key.
  EXPECT_NE(step.step_key, Run("set.near_duplicates", {items[0], items[2]}).step_key);
}

TEST_F(SetMethodsTest, SummaryCountsPaletteAndWords) {
  std::vector<SetItem> items = {
      Image("a", "0000000000000000",
            json::array{json::object{{"hex", "#ff0000"}, {"share", 0.8}},
                        json::object{{"hex", "#ffffff"}, {"share", 0.2}}},
            json::array{json::object{{"text", "SALE!"}}, json::object{{"text", "now"}}}),
      Image("b", "0000000000000001", json::array{json::object{{"hex", "#ff0000"}, {"share", 1.0}}},
            json::array{json::object{{"text", "Sale"}}}),
      SetItem{.url = "http://x/v", .sha256 = "v", .kind = "video", .ok = true},
      SetItem{.url = "http://x/bad", .ok = false}};
  StepResult step = Run("set.summary", items);
  ASSERT_TRUE(step.status.ok()) << step.status;
  const json::object& out = step.output.as_object();
  EXPECT_EQ(out.at("items").as_int64(), 4);
  EXPECT_EQ(out.at("by_kind").at("image").as_int64(), 2);
  EXPECT_EQ(out.at("by_kind").at("video").as_int64(), 1);
  EXPECT_EQ(out.at("by_status").at("failed").as_int64(), 1);
  EXPECT_EQ(out.at("palette").as_array()[0].at("hex").as_string(), "#ff0000");
  EXPECT_NEAR(out.at("palette").as_array()[0].at("share").to_number<double>(), 0.9, 1e-9);
  EXPECT_EQ(out.at("top_words").as_array()[0].at("word").as_string(), "sale");
  EXPECT_EQ(out.at("top_words").as_array()[0].at("count").as_int64(), 2);
}

}  // namespace
}  // namespace sluice::methods
