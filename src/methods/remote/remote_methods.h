// The built-in remote methods (DESIGN.md §4): prompts and parsing inside, outputs validated
// against a JSON schema (a reply that does not parse or fit is re-asked, a bounded number of
// times), every call through the provider's gate.
//
//   llm.tags          image → {"tags": [...]}: attribute tags
//   llm.seo_filename  image → {"filename": "red-running-shoe.jpg", "alt_text": "..."}
//   llm.content_type  image → {"content_type": "photo" | "illustration" | ..., "confidence"}
//   llm.describe      image, or a video's sampled frames → {"description", "subjects"}
//   embed.text        the item's OCR text and/or description → {"model", "dimensions", "vector"}
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

// Whether `value` fits `schema` (type, properties, required, additionalProperties, items,
// enum, minItems/maxItems, minLength/maxLength, minimum/maximum). InvalidArgument naming the
// first place that does not, as a JSON path ("$.tags[2]").
Status CheckAgainstSchema(const json::value& value, const json::object& schema);

}  // namespace sluice::methods::remote
