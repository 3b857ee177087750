#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <boost/json/serialize.hpp>
#include <functional>
#include <set>

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
                 json::object params = {}, const SetScope* scope = nullptr) {
    const auto* method = dynamic_cast<const SetMethod*>(registry_.Find(name));
    return rt_.Run(ExecuteSetStep(*method, items, *ResolveParams(method->spec(), params),
                                  {.runtime = &rt_, .set_scope = scope}));
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

// A kThumbSide² thumbnail ("thumb" of image.phash) drawn by `level(x, y)`, 0-255.
std::string Thumb(const std::function<double(double, double)>& level) {
  std::string out;
  for (int y = 0; y < kThumbSide; ++y) {
    for (int x = 0; x < kThumbSide; ++x) {
      int value = std::clamp(static_cast<int>(level(x, y)), 0, 255);
      out.push_back("0123456789abcdef"[value >> 4]);
    }
  }
  return out;
}

// An ad-like picture: a vertical gradient with a dark band of "words" across the middle, whose
// letters are `pattern`'s bits; `scale` < 1 draws a centred crop of it (what is left after
// cutting the edges off, scaled back up).
std::string AdThumb(uint32_t pattern, double scale = 1) {
  return Thumb([=](double x, double y) {
    double c = (kThumbSide - 1) / 2.0;
    double u = c + (x - c) * scale, v = c + (y - c) * scale;
    double level = 60 + 5 * v;
    if (v >= 12 && v < 19 && u >= 2 && u < 30) {
      int letter = static_cast<int>((u - 2) / 3.5);
      if (pattern >> letter & 1) level = 20;
    }
    return level;
  });
}

SetItem Creative(std::string name, std::string thumb, std::string headline = "") {
  SetItem item = Image(std::move(name), "ffff0000ffff0000");
  item.results["image.phash"].as_object()["thumb"] = std::move(thumb);
  if (!headline.empty()) {
    auto line = [](std::string text, int height) {
      return json::object{{"text", std::move(text)},
                          {"confidence", 95},
                          {"box", json::object{{"x", 10}, {"y", 10}, {"w", 300}, {"h", height}}}};
    };
    item.results["ocr.tesseract"] =
        json::object{{"lines", json::array{line(headline, 60), line("free returns", 20)}}};
  }
  return item;
}

std::vector<std::set<std::string>> Groups(const StepResult& step) {
  std::vector<std::set<std::string>> out;
  for (const json::value& group : step.output.at("groups").as_array()) {
    std::set<std::string>& names = out.emplace_back();
    for (const json::value& member : group.as_array())
      names.insert(std::string(member.at("sha256").as_string()));
  }
  return out;
}

TEST_F(SetMethodsTest, NearDuplicatesCheckCloseHashesByThumbnailAndWords) {
  // One hash for all (what the 64-bit hash cannot tell apart); the thumbnails and the main line
  // decide.
  std::vector<SetItem> items = {
      Creative("original", AdThumb(0b10110111011101), "SUMMER SALE"),
      Creative("cropped", AdThumb(0b10110111011101, 0.93), "SUMMER SALE"),
      Creative("misread", AdThumb(0b10110111011101), "SUMMER SA1E"),
      Creative("other-words", AdThumb(0b11101101110111), "WINTER DEALS"),
      Creative("other-picture", Thumb([](double x, double y) {
                 return (static_cast<int>(x / 4) + static_cast<int>(y / 4)) % 2 ? 230 : 30;
               }))};
  StepResult step = Run("set.near_duplicates", items);
  ASSERT_TRUE(step.status.ok()) << step.status;
  std::vector<std::set<std::string>> groups = Groups(step);
  ASSERT_EQ(groups.size(), 1u) << json::serialize(step.output);
  EXPECT_EQ(groups[0], (std::set<std::string>{"original", "cropped", "misread"}));

  // Without OCR the thumbnails alone decide: other words on one template differ too little.
  for (SetItem& item : items) item.results.erase("ocr.tesseract");
  StepResult pictures_only = Run("set.near_duplicates", items);
  ASSERT_EQ(Groups(pictures_only).size(), 1u);
  EXPECT_TRUE(Groups(pictures_only)[0].contains("other-words"));
  EXPECT_FALSE(Groups(pictures_only)[0].contains("other-picture"));

  StepResult strict = Run("set.near_duplicates", items, {{"max_thumb_difference", 0.01}});
  EXPECT_FALSE(Groups(strict).empty() || Groups(strict)[0].contains("cropped"))
      << "a crop differs a little even aligned";
  EXPECT_FALSE(Run("set.near_duplicates", items, {{"max_thumb_difference", -1}}).status.ok());
}

// A line as ocr.tesseract reports it.
json::object OcrLine(std::string text, double confidence, int width, int height) {
  return json::object{{"text", std::move(text)},
                      {"confidence", confidence},
                      {"box", json::object{{"x", 10}, {"y", 10}, {"w", width}, {"h", height}}}};
}

SetItem ReadCreative(std::string name, json::array lines, uint32_t words = 0b10110111011101) {
  SetItem item = Creative(std::move(name), AdThumb(words));
  item.results["ocr.tesseract"] = json::object{{"lines", std::move(lines)}};
  return item;
}

TEST_F(SetMethodsTest, NearDuplicatesKeepLookAlikesApartThroughCopiesOcrCouldNotRead) {
  // One template and one hash for all; the look-alikes' thumbnails differ a little in the band
  // of words, too little to tell them apart: the words do.
  std::vector<SetItem> items = {
      ReadCreative("original", {OcrLine("SUMMER SALE", 95, 400, 60),
                                OcrLine("free returns on every order", 95, 160, 12)}),
      // Resized to half: the headline read, the small print too small to read.
      ReadCreative("half-size", {OcrLine("SUMMER SALE", 95, 200, 30)}),
      // The headline read unsurely: a misreading of a line of its size, not other words.
      ReadCreative("misread", {OcrLine("SUMER SAIE", 60, 398, 58),
                               OcrLine("free returns on every order", 95, 160, 12)}),
      // Nothing read surely: nothing to tell it by — it must not join the look-alike to the
      // copies.
      ReadCreative("unread", {OcrLine("SUMMER SALE", 50, 400, 60)}),
      ReadCreative("look-alike",
                   {OcrLine("WINTER DEALS", 95, 420, 60),
                    OcrLine("free returns on every order", 95, 160, 12)},
                   0b11101101110111)};
  StepResult step = Run("set.near_duplicates", items);
  ASSERT_TRUE(step.status.ok()) << step.status;
  std::vector<std::set<std::string>> groups = Groups(step);
  ASSERT_EQ(groups.size(), 1u) << json::serialize(step.output);
  EXPECT_EQ(groups[0], (std::set<std::string>{"original", "half-size", "misread", "unread"}));

  // Resized to a third, the copy still shows its headline, and a line of the look-alike's
  // size read surely with other words keeps a copy apart.
  items.push_back(ReadCreative("third-size", {OcrLine("SUMMER SALE", 95, 133, 20)}));
  items.push_back(ReadCreative(
      "other-headline",
      {OcrLine("FLASH OFFER", 95, 400, 60), OcrLine("free returns on every order", 95, 160, 12)},
      0b11011101101101));
  groups = Groups(Run("set.near_duplicates", items));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(groups[0].contains("third-size"));
  EXPECT_FALSE(groups[0].contains("other-headline"));
  EXPECT_FALSE(groups[0].contains("look-alike"));
}

// A creative whose headline is a number and a word, with the words' confidences.
SetItem NumberCreative(std::string name, std::string number, double number_confidence,
                       uint32_t thumb_words) {
  SetItem item = ReadCreative(name,
                              {OcrLine(number + " OFF", (number_confidence + 96) / 2, 400, 60),
                               OcrLine("free returns on every order", 95, 160, 12)},
                              thumb_words);
  json::array words{json::object{{"text", number}, {"confidence", number_confidence}},
                    json::object{{"text", "OFF"}, {"confidence", 96}}};
  for (const char* word : {"free", "returns", "on", "every", "order"})
    words.push_back(json::object{{"text", word}, {"confidence", 95}});
  item.results["ocr.tesseract"].as_object()["words"] = std::move(words);
  return item;
}

TEST_F(SetMethodsTest, NearDuplicatesLeaveOutNumbersReadUnsurely) {
  // OCR confuses 3, 5 and 9 in heavy fonts, now and then surely: a copy reads "50%" where the
  // original's "30%" was unsure. A number read surely in both still tells look-alikes apart.
  std::vector<SetItem> items = {NumberCreative("original", "30%", 77, 0b10110111011101),
                                NumberCreative("copy", "50%", 92, 0b10110111011101),
                                NumberCreative("look-alike", "70%", 95, 0b11101101110111)};
  std::vector<std::set<std::string>> groups = Groups(Run("set.near_duplicates", items));
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0], (std::set<std::string>{"original", "copy"}));

  items[0] = NumberCreative("original", "30%", 95, 0b10110111011101);
  EXPECT_TRUE(Groups(Run("set.near_duplicates", items)).empty())
      << "30% and 50%, both read surely, are other words";
}

// Earlier sets' images as a list, searched by brute force: what the hash index answers.
class ListedKnownImages : public KnownImages {
 public:
  struct Entry {
    uint64_t hash;
    std::string sha256, set, url;
  };
  explicit ListedKnownImages(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  Result<std::vector<std::vector<KnownImage>>> Near(const std::string& method,
                                                    std::span<const uint64_t> hashes,
                                                    int max_distance, int max_hits,
                                                    const std::string& set) const override {
    asked.push_back(method + " in " + set);
    std::vector<std::vector<KnownImage>> out;
    for (uint64_t hash : hashes) {
      std::vector<KnownImage>& hits = out.emplace_back();
      for (const Entry& entry : entries_) {
        int distance = std::popcount(hash ^ entry.hash);
        if (entry.set != set && distance <= max_distance)
          hits.push_back({.sha256 = entry.sha256,
                          .distance = distance,
                          .items = {{.set = entry.set, .url = entry.url}}});
      }
      std::sort(hits.begin(), hits.end(),
                [](const auto& a, const auto& b) { return a.distance < b.distance; });
      if (static_cast<int>(hits.size()) > max_hits) hits.resize(static_cast<size_t>(max_hits));
    }
    return out;
  }
  mutable std::vector<std::string> asked;

 private:
  std::vector<Entry> entries_;
};

TEST_F(SetMethodsTest, NearDuplicatesFindsWhatOtherSetsAlreadyHold) {
  ListedKnownImages known({{0xffff0000ffff0001, "old-a", "brand-a", "http://a/1"},
                           {0xffff0000ffff00ff, "old-b", "brand-a", "http://a/2"},  // 8 bits
                           {0x0000ffff0000ffff, "far", "brand-a", "http://a/3"},
                           {0xffff0000ffff0000, "mine", "brand-b", "http://b/old"}});
  std::vector<SetItem> items = {Image("a", "ffff0000ffff0000"), Image("c", "123456789abcdef0")};
  SetScope scope{.set = "brand-b", .known = &known};
  StepResult step = Run("set.near_duplicates", items, {{"known_max_distance", 4}}, &scope);
  ASSERT_TRUE(step.status.ok()) << step.status;
  EXPECT_EQ(known.asked, std::vector<std::string>{"image.phash in brand-b"});
  EXPECT_EQ(step.output.at("items_known").as_int64(), 1);
  const json::array& found = step.output.at("known").as_array();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].at("url").as_string(), "http://x/a");
  const json::array& matches = found[0].at("matches").as_array();
  ASSERT_EQ(matches.size(), 1u) << "within 4 bits, of another set";
  EXPECT_EQ(matches[0].at("sha256").as_string(), "old-a");
  EXPECT_EQ(matches[0].at("distance").as_int64(), 1);
  EXPECT_EQ(matches[0].at("items").at(0).at("set").as_string(), "brand-a");

  StepResult wider = Run("set.near_duplicates", items, {{"known_per_image", 1}}, &scope);
  EXPECT_EQ(wider.output.at("known").at(0).at("matches").as_array().size(), 1u);
  StepResult within_only = Run("set.near_duplicates", items, {{"across_sets", false}}, &scope);
  EXPECT_FALSE(within_only.output.as_object().contains("known"));
  EXPECT_FALSE(Run("set.near_duplicates", items).output.as_object().contains("known"))
      << "nothing known when run alone";
  EXPECT_FALSE(Run("set.near_duplicates", items, {{"max_distance", 65}}).status.ok());
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
