// What a pipeline runs: cycles, each with item steps then set steps (DESIGN.md §2).
//
//   [[cycle]]                         # one cycle: item steps over every stored item, then set
//   steps
//   [[cycle.item]]
//   method = "ocr.tesseract"
//   kinds  = ["image"]                # run only for these media kinds (default: what the method
//   takes) when   = "image.faces.count == 0" # run only when an earlier result satisfies this
//   params = { lang = "eng" }
//   [[cycle.set]]
//   method = "set.near_duplicates"
//
// Within a cycle, item steps whose inputs or condition read another step's result run after it;
// the rest run concurrently. Items a set step asks to run again (SetOutput::rerun) get those
// steps in the next cycle (an extra cycle is added when there is none).
//
// Thread-safe: immutable once built.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/content_type.h"
#include "common/status.h"
#include "methods/registry.h"

namespace sluice::pipeline {

namespace json = boost::json;

// "<method>.<field>[.<field>…] <op> <literal>" with op one of == != > >= < <=, or
// "<method>.<field>… exists". Literals: numbers, true/false, 'single' or "double" quoted text.
struct Condition {
  std::string text;  // as written, for messages
  std::string method;
  std::vector<std::string> path;
  std::string op;  // "exists", "==", "!=", ">", ">=", "<", "<="
  json::value literal;

  // InvalidArgument explaining what is wrong with `text`.
  static Result<Condition> Parse(std::string_view text);
  // Whether the item's results satisfy it. A missing result or field is false (and "exists" false).
  bool Holds(const json::object& results) const;
};

struct StepDef {
  std::string method;
  json::object params;           // resolved: defaults filled
  std::vector<MediaKind> kinds;  // empty: whatever the method takes
  std::optional<Condition> when;
  int line = 0;  // in the pipeline file, 0 for built-ins
};

struct CycleDef {
  std::vector<StepDef> item_steps;
  std::vector<StepDef> set_steps;
};

struct PipelineDef {
  std::string name;
  std::vector<CycleDef> cycles;
};

// The built-in pipeline: probe every item; pHash, palette, thumbnail, faces and OCR on images;
// shots on videos, defects and the local transcript on videos and audio (all three in one
// decoding pass); near-duplicates, the summary and the videos' summary over the set.
PipelineDef DefaultPipeline(const methods::Registry& registry);

// The pipelines built in, by name:
//   default  the one above: local methods only (embedded mode)
//   video    default, plus for videos the remote steps: llm.content_type and llm.describe (one
//            keyframe per shot and the transcript), llm.clips and video.clips
//   defects  probe and video.defects only: a pool of machines for the defect detectors
// NotFound (cause "unknown_pipeline") listing the names for another.
Result<PipelineDef> BuiltinPipeline(std::string_view name, const methods::Registry& registry);
std::vector<std::string> BuiltinPipelineNames();

// Reads and validates a pipeline file. InvalidArgument with "FILE:LINE: what is wrong" for a
// TOML syntax error, an unknown method, an item method used as a set step or the reverse, bad
// params, an unknown kind, a bad condition, or a step reading a result no earlier step makes.
// NotFound when the file cannot be read.
Result<PipelineDef> LoadPipelineFile(const std::filesystem::path& file,
                                     const methods::Registry& registry);

// The same checks on a definition built in code.
Status ValidatePipeline(const PipelineDef& pipeline, const methods::Registry& registry);

}  // namespace sluice::pipeline
