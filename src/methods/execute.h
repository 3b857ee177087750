// Running one step — one method on one item, or on one set — the way the pipeline and the
// MethodRunner both do: params resolved, the step key computed, the method run where its spec
// says (CPU pool or event loop), exceptions caught, timing and cost recorded, artifacts stored.
//
// Event-loop only: the awaitables must be awaited on the runtime's loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "methods/method.h"
#include "runtime/runtime.h"
#include "storage/blob_store.h"

namespace sluice::methods {

// The result document of one step. Every field but `output`/`artifacts` is filled on failure too.
struct StepResult {
  std::string method;
  int version = 0;
  // sha256 of {method, version, params, inputs} in canonical JSON: the step's cache address.
  std::string step_key;
  json::object params;
  // What the step read, by input name: {"file": "<sha256>", "result:image.phash": "<sha256>"}.
  json::object inputs;
  json::value output;
  // Artifact name → store key.
  json::object artifacts;
  Cost cost;
  double millis = 0;
  // Not OK when the step failed; the cause is CauseOf(status).
  Status status;
  // Set methods only: items the method asked to run again.
  std::vector<ItemRerun> rerun;
};

json::object StepResultToJson(const StepResult& step);
// serialize(StepResultToJson(step)), appended to `out` without building the document: for
// journal lines, which replay must read back with every number of the same kind (an integer
// stays an integer, 1.0 stays a double) or the step keys made from replayed results change.
void AppendStepResultJson(std::string& out, const StepResult& step);
// JsonText of the same document with `"source": source` last when `source` is not empty,
// appended to `out`: a result document's step.
void AppendStepResultText(std::string& out, const StepResult& step, std::string_view source);
// The inverse, for journal replay. InvalidArgument when `doc` is not a step result document.
Result<StepResult> StepResultFromJson(const json::object& doc);

json::object CostToJson(const Cost& cost);
// Absent fields are 0 (older journals).
Cost CostFromJson(const json::object& doc);

std::string StepKey(const MethodSpec& spec, const json::object& params, const json::object& inputs);

// The digests an item step depends on. FailedPrecondition (cause "missing_input") when an input
// "result:<m>" has no result in `item.results`.
Result<json::object> ItemInputDigests(const MethodSpec& spec, const ItemContext& item);

struct ExecuteOptions {
  runtime::Runtime* runtime = nullptr;
  // Where artifacts go. Required when the method returns any.
  storage::BlobStore* artifacts = nullptr;
  // Durability of artifact puts. The pipeline defers and flushes once before its commit.
  storage::Durability artifact_durability = storage::Durability::kImmediate;
  // The item's finished steps by method: asynchronous methods read their artifacts
  // (ItemContext::read_artifact) from `artifacts`. Null: none readable.
  const std::map<std::string, StepResult>* earlier_steps = nullptr;
  // Set methods only: the set's name and what earlier sets hold. Null: nothing known.
  const SetScope* set_scope = nullptr;
};

// The digest a set step depends on: every item's url, content and results.
json::object SetInputDigests(const std::vector<SetItem>& items);

// Runs item method `method` on `item` with resolved `params`. Never throws; a failure is in
// StepResult::status: FailedPrecondition "kind_not_accepted" when the spec does not take the
// item's kind, "missing_input" for a missing prerequisite result, "method_threw" (Internal)
// when the method threw, or the method's own error.
boost::asio::awaitable<StepResult> ExecuteItemStep(const MethodBase& method, ItemContext item,
                                                   json::object params, ExecuteOptions options);

struct ItemStepCall {
  const MethodBase* method;
  json::object params;  // resolved
  // The step's input digests when the caller computed them already (with the key): saves
  // computing them twice. Empty: computed here.
  std::optional<json::object> inputs;
  std::string step_key;
};

// Runs several item methods on one item: the synchronous ones together in one CPU-pool task,
// then the asynchronous ones on the event loop. One StepResult per call, in order; failures as
// for ExecuteItemStep.
boost::asio::awaitable<std::vector<StepResult>> ExecuteItemSteps(std::vector<ItemStepCall> calls,
                                                                 ItemContext item,
                                                                 ExecuteOptions options);

// Runs set method `method` (SetMethod on the CPU pool, AsyncSetMethod on the loop) over
// `items`. Failures as above.
boost::asio::awaitable<StepResult> ExecuteSetStep(const MethodBase& method,
                                                  const std::vector<SetItem>& items,
                                                  json::object params, ExecuteOptions options);

}  // namespace sluice::methods
