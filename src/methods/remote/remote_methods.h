// The built-in remote methods (DESIGN.md §4): prompts and parsing inside, outputs validated
// against a JSON schema (a reply that does not parse or fit is re-asked, a bounded number of
// times), every call through the provider's gate.
//
//   llm.tags          image → {"tags": [...]}: attribute tags
//   llm.seo_filename  image → {"filename": "red-running-shoe.jpg", "alt_text": "..."}
//   llm.content_type  image → {"content_type": "photo" | "illustration" | ..., "confidence"}
//   llm.describe      image, or a video's sampled frames → {"description", "subjects"}
//   embed.text        the item's OCR text and/or description → {"model", "dimensions", "vector"}
//   llm.clips         a video's shot list and transcript → {"clips": [{start_s, end_s, title,
//                     reason, score}]}, snapped to shot and sentence boundaries
//   audio.transcript  a video's or audio file's speech → {"text", "segments": [{start_s, end_s,
//                     text}]}; provider "local" (the default) runs PocketSphinx here
//   llm.set_summary   (set) all items' results → {"summary", "themes"}
//
// Every method takes params "provider" (default: the configured default provider) and "model"
// ("" = that provider's configured model; resolved when the pipeline is loaded, so the model is
// part of every step key and a model change is never served from the cache).
#pragma once

#include <memory>
#include <vector>

#include "methods/method.h"
#include "methods/remote/config.h"
#include "runtime/runtime.h"

namespace sluice::methods::remote {

struct RemoteEnv {
  // For params resolution. Required.
  const ProvidersConfig* config = nullptr;
  // The live providers and the runtime (CPU pool for image preparation). Null when the methods
  // are only listed or validated; running them then fails with "no_providers".
  Providers* providers = nullptr;
  runtime::Runtime* runtime = nullptr;
};

std::vector<std::unique_ptr<MethodBase>> NewRemoteMethods(const RemoteEnv& env);

// audio.transcript (transcript.cc): on this machine by default, or through a provider.
std::unique_ptr<MethodBase> NewTranscriptMethod(const RemoteEnv& env);
// llm.clips (clips.cc).
std::unique_ptr<MethodBase> NewClipsMethod(const RemoteEnv& env);

// What a clip must be to be kept (llm.clips params).
struct ClipRules {
  double min_s = 5;   // shorter clips are dropped
  double max_s = 60;  // longer ones are cut to this
  double snap_s = 2;  // how far a start or end moves to a shot or sentence boundary
  int max_clips = 5;
};

// The clips a model proposed ({start, end, title, reason, score} each), snapped to the
// boundaries of `shots` (a video.shots result, which also gives the duration) and of
// `transcript` (an audio.transcript result, or null), then checked against `rules`:
// {"clips": [{start_s, end_s, duration_s, title, reason, score}] in time order, "dropped":
// [{title, why}]}. Overlapping clips keep the better-scored one.
json::object ChooseClips(const json::array& proposed, const json::object& shots,
                         const json::object* transcript, const ClipRules& rules);

}  // namespace sluice::methods::remote
