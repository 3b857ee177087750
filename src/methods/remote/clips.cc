// llm.clips: the model reads a video's shot list and timed transcript and proposes insightful
// clips; sluice snaps each to shot and sentence boundaries and keeps only clips that are inside
// the video, between the minimum and maximum length, and overlap no better-scored clip.
#include <algorithm>
#include <cmath>

#include "common/strings.h"
#include "remote_internal.h"  // private to this folder

namespace sluice::methods::remote {
namespace {

// Boundaries a clip may snap to: where shots and transcript segments begin (for starts) and end
// (for ends).
struct Boundaries {
  std::vector<double> starts, ends;
};

Boundaries BoundariesOf(const json::object& shots, const json::object* transcript) {
  Boundaries out;
  auto add = [&out](const json::value& list, const char* from, const char* to) {
    if (!list.is_array()) return;
    for (const json::value& span : list.as_array()) {
      if (!span.is_object()) continue;
      const json::object& o = span.as_object();
      if (o.contains(from) && o.at(from).is_number())
        out.starts.push_back(o.at(from).to_number<double>());
      if (o.contains(to) && o.at(to).is_number()) out.ends.push_back(o.at(to).to_number<double>());
    }
  };
  if (const json::value* list = shots.if_contains("shots")) add(*list, "start_s", "end_s");
  if (transcript) {
    if (const json::value* list = transcript->if_contains("segments"))
      add(*list, "start_s", "end_s");
  }
  return out;
}

// The boundary nearest `at` within `tolerance`, or `at`.
double Snap(double at, const std::vector<double>& candidates, double tolerance) {
  double best = at, distance = tolerance;
  for (double c : candidates) {
    if (std::abs(c - at) <= distance) {
      distance = std::abs(c - at);
      best = c;
    }
  }
  return best;
}

}  // namespace

json::object ChooseClips(const json::array& proposed, const json::object& shots,
                         const json::object* transcript, const ClipRules& rules) {
  double duration = shots.contains("duration_s") ? shots.at("duration_s").to_number<double>() : 0;
  Boundaries boundaries = BoundariesOf(shots, transcript);
  struct Clip {
    json::object doc;
    double start, end, score;
  };
  std::vector<Clip> candidates;
  json::array dropped;
  auto drop = [&dropped](const json::object& clip, std::string why) {
    dropped.push_back(json::object{
        {"title", clip.contains("title") ? clip.at("title") : json::value("")}, {"why", why}});
  };
  for (const json::value& value : proposed) {
    if (!value.is_object()) continue;
    const json::object& clip = value.as_object();
    double start = clip.at("start").to_number<double>(), end = clip.at("end").to_number<double>();
    if (!(end > start)) {
      drop(clip, "ends before it starts");
      continue;
    }
    if (start >= duration || end <= 0) {
      drop(clip, "outside the video");
      continue;
    }
    start = std::clamp(Snap(start, boundaries.starts, rules.snap_s), 0.0, duration);
    end = std::clamp(Snap(end, boundaries.ends, rules.snap_s), 0.0, duration);
    if (end - start > rules.max_s) {
      // Cut to the longest allowed, ending on a boundary inside it when there is one near.
      double limit = start + rules.max_s;
      double snapped = Snap(limit, boundaries.ends, rules.snap_s);
      end = snapped <= limit ? snapped : limit;
    }
    if (end - start < rules.min_s) {
      drop(clip, StrCat("shorter than ", rules.min_s, " s"));
      continue;
    }
    json::object doc{{"start_s", RoundedSeconds(start)},
                     {"end_s", RoundedSeconds(end)},
                     {"duration_s", RoundedSeconds(end - start)},
                     {"title", clip.at("title")},
                     {"reason", clip.at("reason")},
                     {"score", clip.at("score")}};
    candidates.push_back({std::move(doc), start, end, clip.at("score").to_number<double>()});
  }
  // Best first; a clip overlapping a better one goes.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Clip& a, const Clip& b) { return a.score > b.score; });
  std::vector<Clip> kept;
  for (Clip& clip : candidates) {
    bool overlaps = std::any_of(kept.begin(), kept.end(), [&](const Clip& k) {
      return clip.start < k.end && k.start < clip.end;
    });
    if (overlaps) {
      drop(clip.doc, "overlaps a better clip");
    } else if (kept.size() >= static_cast<size_t>(rules.max_clips)) {
      drop(clip.doc, "past max_clips");
    } else {
      kept.push_back(std::move(clip));
    }
  }
  std::sort(kept.begin(), kept.end(),
            [](const Clip& a, const Clip& b) { return a.start < b.start; });
  json::array clips;
  for (Clip& clip : kept) clips.push_back(std::move(clip.doc));
  return json::object{{"clips", std::move(clips)}, {"dropped", std::move(dropped)}};
}

namespace {

class ClipsMethod : public AsyncMethod, protected RemoteBase {
 public:
  explicit ClipsMethod(RemoteEnv env) : RemoteBase(env, false) {
    spec_ = {.name = "llm.clips",
             .kinds = {MediaKind::kVideo},
             .inputs = {"result:video.shots", "result?:audio.transcript"},
             .description =
                 "insightful clips of a video, proposed by a model from its shot list "
                 "and transcript, snapped to shot and sentence boundaries and checked",
             .params = {{"max_clips", 5},
                        {"min_clip_s", 5.0},
                        {"max_clip_s", 60.0},
                        {"snap_s", 2.0},
                        {"max_reasks", 2}}};
    AddProviderParams(spec_);
  }
  const MethodSpec& spec() const override { return spec_; }
  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_clips", 1, 50));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "min_clip_s", 0.5, 3600));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_clip_s", 1, 3600));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "snap_s", 0, 60));
    if (params.at("min_clip_s").to_number<double>() > params.at("max_clip_s").to_number<double>())
      return absl::InvalidArgumentError("min_clip_s must not exceed max_clip_s");
    return Complete(params);
  }

  asio::awaitable<Result<MethodOutput>> Run(ItemContext item, json::object params) const override {
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, ProviderFor(params));
    const json::object& shots = item.results->at("video.shots").as_object();
    const json::value* transcript = item.results->if_contains("audio.transcript");
    const json::object* spoken =
        transcript && transcript->is_object() ? &transcript->as_object() : nullptr;
    ClipRules rules{.min_s = params.at("min_clip_s").to_number<double>(),
                    .max_s = params.at("max_clip_s").to_number<double>(),
                    .snap_s = params.at("snap_s").to_number<double>(),
                    .max_clips = static_cast<int>(params.at("max_clips").to_number<int64_t>())};
    double duration = shots.at("duration_s").to_number<double>();
    std::string prompt = StrCat(
        "A video of ", duration, " seconds. Choose up to ", rules.max_clips,
        " insightful clips: self-contained moments worth sharing on their own, each between ",
        rules.min_s, " and ", rules.max_s,
        " seconds, not overlapping. Give start and end in seconds, a short title, why it is "
        "worth watching, and a score from 0 to 1.\n\nShots, [start-end] in seconds:\n");
    for (const json::value& shot : shots.at("shots").as_array()) {
      StrAppend(prompt, "[", shot.at("start_s").to_number<double>(), "-",
                shot.at("end_s").to_number<double>(), "]\n");
    }
    if (spoken) {
      if (const json::value* segments = spoken->if_contains("segments");
          segments && segments->is_array() && !segments->as_array().empty()) {
        StrAppend(prompt, "\nTranscript, [start-end] in seconds:\n");
        for (const json::value& segment : segments->as_array()) {
          StrAppend(prompt, "[", segment.at("start_s").to_number<double>(), "-",
                    segment.at("end_s").to_number<double>(), "] ",
                    std::string_view(segment.at("text").as_string()), "\n");
          if (prompt.size() > 12000) {
            prompt += "[the rest is cut]\n";
            break;
          }
        }
      }
    }
    json::object clip_schema{
        {"type", "object"},
        {"properties",
         {{"start", {{"type", "number"}, {"minimum", 0}, {"maximum", duration}}},
          {"end", {{"type", "number"}, {"minimum", 0}, {"maximum", duration}}},
          {"title", {{"type", "string"}, {"minLength", 1}, {"maxLength", 120}}},
          {"reason", {{"type", "string"}, {"maxLength", 500}}},
          {"score", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}},
        {"required", {"start", "end", "title", "reason", "score"}},
        {"additionalProperties", false}};
    json::object schema{
        {"type", "object"},
        {"properties",
         {{"clips", {{"type", "array"}, {"maxItems", rules.max_clips}, {"items", clip_schema}}}}},
        {"required", {"clips"}},
        {"additionalProperties", false}};
    ChatRequest request{.model = std::string(params.at("model").as_string()),
                        .system = "You edit video for a catalogue. Answer with JSON only.",
                        .schema = std::move(schema),
                        .schema_name = "clips",
                        .max_output_tokens = 1500};
    request.messages.push_back({.role = "user", .text = std::move(prompt)});
    SLUICE_CO_ASSIGN_OR_RETURN(
        JsonAnswer answer,
        co_await AskJson(*provider, std::move(request),
                         static_cast<int>(params.at("max_reasks").to_number<int64_t>())));
    json::object value =
        ChooseClips(answer.value.as_object().at("clips").as_array(), shots, spoken, rules);
    value["model"] = params.at("model");
    co_return MethodOutput{.value = std::move(value), .cost = answer.usage};
  }

 private:
  MethodSpec spec_;
};

}  // namespace

std::unique_ptr<MethodBase> NewClipsMethod(const RemoteEnv& env) {
  return std::make_unique<ClipsMethod>(env);
}

}  // namespace sluice::methods::remote
