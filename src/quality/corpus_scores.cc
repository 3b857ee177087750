#include "quality/corpus_scores.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/strings.h"
#include "quality/scores.h"

namespace sluice::quality {
namespace json = boost::json;
namespace {

double Rounded(double value) { return std::round(value * 10000) / 10000; }

const json::object* OutputOf(const CorpusOutputs& outputs, const std::string& file,
                             const std::string& method) {
  auto item = outputs.results.find(file);
  if (item == outputs.results.end()) return nullptr;
  auto output = item->second.find(method);
  return output == item->second.end() ? nullptr : &output->second;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// OCR sums over a class of images.
struct OcrTally {
  int64_t images = 0, headlines_found = 0, failed = 0;
  MatchCounts words;
  double character_errors = 0;  // sum of per-image CER
  std::vector<double> millis;

  json::object Scores() const {
    double n = static_cast<double>(std::max<int64_t>(1, images));
    json::object out{{"images", images},
                     {"headline_exact_match", Rounded(static_cast<double>(headlines_found) / n)},
                     {"word_recall", Rounded(words.Recall())},
                     {"word_precision", Rounded(words.Precision())},
                     {"character_error_rate", Rounded(character_errors / n)},
                     {"failed", failed}};
    if (!millis.empty()) out["ms_per_image_p50"] = Rounded(Median(millis));
    return out;
  }
};

Result<json::object> ScoreOcr(const json::array& creatives, const CorpusOutputs& outputs) {
  OcrTally all;
  std::map<std::string, OcrTally> by_size;
  std::vector<double> millis;
  for (const json::value& value : creatives) {
    const json::object* truth = value.if_object();
    if (!truth || !truth->contains("file") || !truth->contains("headline") ||
        !truth->contains("lines"))
      return Failure(absl::StatusCode::kInvalidArgument, "bad_truth",
                     "a creative's truth needs file, headline and lines");
    std::string file(truth->at("file").as_string());
    std::string text;
    for (const json::value& line : truth->at("lines").as_array())
      StrAppend(text, text.empty() ? "" : "\n", line.as_string());
    const json::object* ocr = OutputOf(outputs, file, "ocr.tesseract");
    std::string read = ocr ? std::string(ocr->at("text").as_string()) : "";
    std::vector<std::string> read_words = ScoringWords(read);
    bool found = ContainsRun(read_words, ScoringWords(truth->at("headline").as_string()));
    MatchCounts words = MatchWords(ScoringWords(text), read_words);
    double cer = CharacterErrorRate(text, read);
    std::string size_class =
        truth->contains("size_class") ? std::string(truth->at("size_class").as_string()) : "";
    for (OcrTally* tally : {&all, &by_size[size_class]}) {
      ++tally->images;
      tally->headlines_found += found ? 1 : 0;
      tally->failed += ocr ? 0 : 1;
      tally->words += words;
      tally->character_errors += std::min(1.0, cer);
    }
  }
  auto it = outputs.millis.find("ocr.tesseract");
  if (it != outputs.millis.end()) all.millis = it->second;
  json::object out = all.Scores();
  json::object sizes;
  for (const auto& [size_class, tally] : by_size) {
    if (!size_class.empty()) sizes[size_class] = tally.Scores();
  }
  out["by_size"] = std::move(sizes);
  return out;
}

// Unit-length vectors of image.embedding by file.
std::map<std::string, std::vector<double>> Embeddings(const CorpusOutputs& outputs) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [file, results] : outputs.results) {
    auto it = results.find("image.embedding");
    const json::value* vector = it == results.end() ? nullptr : it->second.if_contains("vector");
    if (!vector || !vector->is_array()) continue;
    std::vector<double> v;
    double norm = 0;
    for (const json::value& x : vector->as_array()) {
      v.push_back(x.to_number<double>());
      norm += v.back() * v.back();
    }
    if (norm <= 0) continue;
    for (double& x : v) x /= std::sqrt(norm);
    out[file] = std::move(v);
  }
  return out;
}

// How well the embedding finds copies: for each image of a near-duplicate group (of at least
// 6), the share of its 5 nearest other images of the near section (by cosine) that are of its
// group, averaged. std::nullopt without embeddings.
std::optional<double> RetrievalPrecisionAt5(const json::array& groups,
                                            const CorpusOutputs& outputs) {
  std::map<std::string, std::vector<double>> vectors = Embeddings(outputs);
  std::map<std::string, std::string> group_of;
  for (const json::value& group : groups) {
    for (const json::value& file : group.at("files").as_array()) {
      std::string name(file.as_string());
      if (vectors.contains(name)) group_of[name] = std::string(group.at("group").as_string());
    }
  }
  std::map<std::string, int> sizes;
  for (const auto& [file, group] : group_of) ++sizes[group];
  double total = 0;
  int queries = 0;
  for (const auto& [file, group] : group_of) {
    if (sizes[group] < 6) continue;
    std::vector<std::pair<double, const std::string*>> ranked;
    for (const auto& [other, other_group] : group_of) {
      if (other == file) continue;
      const std::vector<double>& a = vectors[file];
      const std::vector<double>& b = vectors[other];
      double cosine = 0;
      for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) cosine += a[i] * b[i];
      ranked.emplace_back(cosine, &other_group);
    }
    std::partial_sort(ranked.begin(), ranked.begin() + std::min<size_t>(5, ranked.size()),
                      ranked.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    int hits = 0;
    for (size_t i = 0; i < std::min<size_t>(5, ranked.size()); ++i)
      hits += *ranked[i].second == group;
    total += hits / 5.0;
    ++queries;
  }
  if (queries == 0) return std::nullopt;
  return total / queries;
}

Result<json::object> ScoreNearDuplicates(const json::array& groups, const CorpusOutputs& outputs) {
  std::map<std::string, std::string> truth_group;
  for (const json::value& value : groups) {
    const json::object* group = value.if_object();
    if (!group || !group->contains("group") || !group->contains("files"))
      return Failure(absl::StatusCode::kInvalidArgument, "bad_truth",
                     "a near-duplicate group's truth needs group and files");
    for (const json::value& file : group->at("files").as_array())
      truth_group[std::string(file.as_string())] = std::string(group->at("group").as_string());
  }
  // Every other image of the set stands alone in the truth (a creative is nobody's copy).
  for (const auto& [file, results] : outputs.results) {
    if (results.contains("image.phash") && !truth_group.contains(file))
      truth_group[file] = StrCat("alone:", file);
  }
  std::vector<std::vector<std::string>> found;
  if (const json::value* near = outputs.set_results.if_contains("set.near_duplicates")) {
    for (const json::value& group : near->at("groups").as_array()) {
      std::vector<std::string> members;
      for (const json::value& member : group.as_array()) {
        std::string url(member.at("url").as_string());
        auto file = outputs.file_of_url.find(url);
        members.push_back(file == outputs.file_of_url.end() ? url : file->second);
      }
      found.push_back(std::move(members));
    }
  }
  MatchCounts pairs = MatchPairs(truth_group, found);
  json::object out{{"images", static_cast<int64_t>(truth_group.size())},
                   {"pairs_true", pairs.truth},
                   {"pairs_found", pairs.found},
                   {"pairs_matched", pairs.matched},
                   {"precision", Rounded(pairs.Precision())},
                   {"recall", Rounded(pairs.Recall())}};
  if (std::optional<double> at5 = RetrievalPrecisionAt5(groups, outputs))
    out["embedding_precision_at_5"] = Rounded(*at5);
  return out;
}

std::vector<Span> SpansOf(const json::value& spans) {
  std::vector<Span> out;
  if (!spans.is_array()) return out;
  for (const json::value& span : spans.as_array()) {
    if (span.is_array()) {  // truth: [start, end]
      out.push_back({span.at(0).to_number<double>(), span.at(1).to_number<double>()});
    } else {  // a method's: {"start_s", "end_s"}
      out.push_back({span.at("start_s").to_number<double>(), span.at("end_s").to_number<double>()});
    }
  }
  return out;
}

Result<json::object> ScoreVideos(const json::array& videos, const CorpusOutputs& outputs) {
  json::object out;
  MatchCounts cuts, spans;
  json::object by_kind;
  bool any_cuts = false, any_spans = false;
  for (const json::value& value : videos) {
    const json::object* truth = value.if_object();
    if (!truth || !truth->contains("file"))
      return Failure(absl::StatusCode::kInvalidArgument, "bad_truth", "a video's truth needs file");
    std::string file(truth->at("file").as_string());
    if (const json::value* frames = truth->if_contains("cut_frames")) {
      any_cuts = true;
      std::vector<double> truth_cuts, found_cuts;
      for (const json::value& frame : frames->as_array())
        truth_cuts.push_back(frame.to_number<double>());
      if (const json::object* shots = OutputOf(outputs, file, "video.shots")) {
        const json::array& list = shots->at("shots").as_array();
        for (size_t i = 1; i < list.size(); ++i)
          found_cuts.push_back(list[i].at("start_frame").to_number<double>());
      }
      cuts += MatchEvents(truth_cuts, found_cuts, 1);  // one frame
    }
    if (const json::value* kinds = truth->if_contains("spans")) {
      any_spans = true;
      const json::object* defects = OutputOf(outputs, file, "video.defects");
      for (const auto& [kind, truth_spans] : kinds->as_object()) {
        std::vector<Span> found =
            defects && defects->contains(kind) ? SpansOf(defects->at(kind)) : std::vector<Span>{};
        MatchCounts counts = MatchSpans(SpansOf(truth_spans), found, 0.1);
        spans += counts;
        by_kind[kind] = Rounded(counts.F1());
      }
    }
    if (const json::value* words = truth->if_contains("transcript")) {
      const json::object* transcript = OutputOf(outputs, file, "audio.transcript");
      std::string heard = transcript ? std::string(transcript->at("text").as_string()) : "";
      out["transcript_wer"] = Rounded(WordErrorRate(words->as_string(), heard));
    }
  }
  if (any_cuts) {
    out["shot_cut_f1"] = Rounded(cuts.F1());
    out["shot_cuts_true"] = cuts.truth;
    out["shot_cuts_found"] = cuts.found;
  }
  if (any_spans) {
    out["defect_span_f1"] = Rounded(spans.F1());
    out["defect_span_f1_by_kind"] = std::move(by_kind);
  }
  return out;
}

// The scores as dotted paths: {"ocr.word_recall": 0.98, ...}, numbers only.
void Flatten(const json::object& object, const std::string& prefix,
             std::vector<std::pair<std::string, double>>& out) {
  for (const auto& [key, value] : object) {
    std::string path = prefix.empty() ? std::string(key) : StrCat(prefix, ".", key);
    if (value.is_object()) {
      Flatten(value.as_object(), path, out);
    } else if (value.is_number()) {
      out.emplace_back(path, value.to_number<double>());
    }
  }
}

std::string Formatted(double value) {
  char text[32];
  if (value == std::floor(value) && std::abs(value) < 1e12) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.4f", value);
  }
  return text;
}

}  // namespace

Result<json::object> ScoreCorpus(const json::object& truth, const CorpusOutputs& outputs) {
  json::object scores;
  auto section = [&](const char* name) -> const json::array* {
    const json::value* value = truth.if_contains(name);
    return value && value->is_array() && !value->as_array().empty() ? &value->as_array() : nullptr;
  };
  if (!truth.contains("creatives") && !truth.contains("near") && !truth.contains("videos"))
    return Failure(absl::StatusCode::kInvalidArgument, "bad_truth",
                   "the truth has none of creatives, near and videos");
  if (const json::array* creatives = section("creatives")) {
    SLUICE_ASSIGN_OR_RETURN(scores["ocr"], ScoreOcr(*creatives, outputs));
  }
  if (const json::array* near = section("near")) {
    SLUICE_ASSIGN_OR_RETURN(scores["near_duplicates"], ScoreNearDuplicates(*near, outputs));
  }
  if (const json::array* videos = section("videos")) {
    SLUICE_ASSIGN_OR_RETURN(scores["video"], ScoreVideos(*videos, outputs));
  }
  return scores;
}

std::string ScoreTable(const json::object& scores) {
  std::vector<std::pair<std::string, double>> rows;
  Flatten(scores, "", rows);
  size_t width = 0;
  for (const auto& [path, value] : rows) width = std::max(width, path.size());
  std::string out;
  for (const auto& [path, value] : rows) {
    StrAppend(out, "  ", path, std::string(width + 2 - path.size(), ' '), Formatted(value), "\n");
  }
  return out;
}

std::vector<std::string> FloorViolations(const json::object& scores, const json::object& floors) {
  std::vector<std::pair<std::string, double>> rows;
  Flatten(scores, "", rows);
  std::map<std::string, double> by_path(rows.begin(), rows.end());
  std::vector<std::string> out;
  for (const char* bound : {"min", "max"}) {
    const json::value* limits = floors.if_contains(bound);
    if (!limits || !limits->is_object()) continue;
    bool is_min = std::string_view(bound) == "min";
    for (const auto& [key, limit] : limits->as_object()) {
      std::string path(key);
      double wanted = limit.to_number<double>();
      auto score = by_path.find(path);
      if (score == by_path.end()) {
        out.push_back(StrCat(path, ": no score (its floor is ", Formatted(wanted), ")"));
      } else if (is_min ? score->second < wanted : score->second > wanted) {
        out.push_back(StrCat(path, " = ", Formatted(score->second),
                             (is_min ? ", below its floor " : ", above its ceiling "),
                             Formatted(wanted)));
      }
    }
  }
  return out;
}

}  // namespace sluice::quality
