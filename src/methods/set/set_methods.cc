// set.summary and set.video_summary.
#include "methods/set/set_methods.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/strings.h"

namespace sluice::methods {
namespace {

const json::object* ResultOf(const SetItem& item, std::string_view method) {
  const json::value* result = item.results.if_contains(method);
  return result ? result->if_object() : nullptr;
}

class SummaryMethod : public SetMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "set.summary",
        .version = 1,
        .inputs = {"set", "result?:image.colors", "result?:ocr.tesseract"},
        .output = "set",
        .description =
            "Counts by kind and status, the set's overall palette, and the "
            "most frequent OCR words",
        .params = {{"top_words", 10}, {"palette", 5}}};
    return spec;
  }

  Result<SetOutput> Run(const std::vector<SetItem>& items, const json::object& params,
                        const SetScope&) const override {
    size_t top_words =
        static_cast<size_t>(std::max<int64_t>(0, params.at("top_words").to_number<int64_t>()));
    size_t palette_size =
        static_cast<size_t>(std::max<int64_t>(0, params.at("palette").to_number<int64_t>()));
    std::map<std::string, int64_t> by_kind, by_status;
    std::map<std::string, double> colors;
    std::map<std::string, int64_t> words;
    for (const SetItem& item : items) {
      ++by_status[item.ok ? "ok" : "failed"];
      if (item.ok) ++by_kind[item.kind];
      if (const json::object* palette = ResultOf(item, "image.colors")) {
        for (const json::value& color : palette->at("palette").as_array()) {
          colors[std::string(color.at("hex").as_string())] += color.at("share").to_number<double>();
        }
      }
      if (const json::object* ocr = ResultOf(item, "ocr.tesseract")) {
        for (const json::value& word : ocr->at("words").as_array()) {
          std::string text = ToLower(std::string_view(word.at("text").as_string()));
          text.erase(std::remove_if(text.begin(), text.end(),
                                    [](unsigned char c) { return !std::isalnum(c); }),
                     text.end());
          if (text.size() >= 3) ++words[text];
        }
      }
    }
    auto top = [](const auto& counts, size_t n) {
      std::vector<std::pair<std::string, double>> sorted;
      for (const auto& [key, value] : counts) sorted.emplace_back(key, static_cast<double>(value));
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      if (sorted.size() > n) sorted.resize(n);
      return sorted;
    };
    double total_share = 0;
    for (const auto& [hex, share] : colors) total_share += share;
    json::array palette, frequent;
    for (const auto& [hex, share] : top(colors, palette_size)) {
      palette.push_back(
          json::object{{"hex", hex}, {"share", std::round(share / total_share * 1000) / 1000}});
    }
    for (const auto& [word, count] : top(words, top_words)) {
      frequent.push_back(json::object{{"word", word}, {"count", static_cast<int64_t>(count)}});
    }
    json::object kinds, statuses;
    for (const auto& [kind, count] : by_kind) kinds[kind] = count;
    for (const auto& [status, count] : by_status) statuses[status] = count;
    return SetOutput{.value = json::object{{"items", static_cast<int64_t>(items.size())},
                                           {"by_kind", kinds},
                                           {"by_status", statuses},
                                           {"palette", palette},
                                           {"top_words", frequent}}};
  }
};

// What a set's videos hold: their length, shots, speech, defects by kind, content types, clips.
class VideoSummaryMethod : public SetMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "set.video_summary",
        .version = 1,
        .inputs = {"set", "result?:media.probe", "result?:video.shots", "result?:audio.transcript",
                   "result?:video.clips", "result?:llm.content_type", "result?:video.defects"},
        .output = "set",
        .description =
            "The set's videos: total duration, shots, transcribed words, defects "
            "found by kind, content types and clips"};
    return spec;
  }

  Result<SetOutput> Run(const std::vector<SetItem>& items, const json::object&,
                        const SetScope&) const override {
    int64_t videos = 0, shots = 0, words = 0, clips = 0;
    double duration = 0;
    std::map<std::string, int64_t> defects, content_types;
    json::array with_defects;
    for (const SetItem& item : items) {
      if (!item.ok || (item.kind != "video" && item.kind != "audio")) continue;
      ++videos;
      if (const json::object* probe = ResultOf(item, "media.probe"))
        duration += probe->at("duration_s").to_number<double>();
      if (const json::object* found = ResultOf(item, "video.shots"))
        shots += found->at("shot_count").to_number<int64_t>();
      if (const json::object* transcript = ResultOf(item, "audio.transcript"))
        words += transcript->at("word_count").to_number<int64_t>();
      if (const json::object* cut = ResultOf(item, "video.clips"))
        clips += cut->at("clip_count").to_number<int64_t>();
      if (const json::object* type = ResultOf(item, "llm.content_type"))
        ++content_types[std::string(type->at("content_type").as_string())];
      if (const json::object* found = ResultOf(item, "video.defects")) {
        json::array kinds;
        for (const char* kind : {"black", "frozen", "silence", "color_bars", "clipping"}) {
          int64_t count = static_cast<int64_t>(found->at(kind).as_array().size());
          defects[kind] += count;
          if (count) kinds.emplace_back(kind);
        }
        if (found->at("slate").is_object()) {
          ++defects["slate"];
          kinds.emplace_back("slate");
        }
        if (!kinds.empty())
          with_defects.push_back(json::object{{"url", item.url}, {"defects", std::move(kinds)}});
      }
    }
    json::object by_kind, by_type;
    for (const auto& [kind, count] : defects) by_kind[kind] = count;
    for (const auto& [type, count] : content_types) by_type[type] = count;
    return SetOutput{.value = json::object{{"videos", videos},
                                           {"duration_s", RoundedSeconds(duration)},
                                           {"shots", shots},
                                           {"transcribed_words", words},
                                           {"clips", clips},
                                           {"defects_by_kind", std::move(by_kind)},
                                           {"items_with_defects", std::move(with_defects)},
                                           {"content_types", std::move(by_type)}}};
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewVideoSummaryMethod() {
  return std::make_unique<VideoSummaryMethod>();
}
std::unique_ptr<MethodBase> NewSummaryMethod() { return std::make_unique<SummaryMethod>(); }

}  // namespace sluice::methods
