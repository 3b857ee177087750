#include "methods/execute.h"

#include <chrono>
#include <exception>

#include "common/json_text.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::methods {

namespace asio = boost::asio;
namespace {

// The decoder forgave the image (a truncated file decodes to a partial picture): every step
// whose item's image was decoded says so in its output, rather than reading as if whole.
void MarkDecodeWarnings(const ItemContext& item, json::value& output) {
  if (!item.image || item.image->warnings().empty() || !output.is_object()) return;
  json::array warnings;
  for (const std::string& warning : item.image->warnings()) warnings.emplace_back(warning);
  output.as_object()["decode_warnings"] = std::move(warnings);
}

using Clock = std::chrono::steady_clock;

Status Threw(const MethodSpec& spec, const char* what) {
  return Failure(absl::StatusCode::kInternal, "method_threw", StrCat(spec.name, " threw: ", what));
}

// Runs `fn` (returning Result<T>), turning any exception into a "method_threw" failure.
template <class T, class F>
Result<T> Guarded(const MethodSpec& spec, F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Threw(spec, e.what());
  } catch (...) {
    return Threw(spec, "an unknown exception");
  }
}

StepResult Begin(const MethodSpec& spec, json::object params, json::object inputs) {
  StepResult step;
  step.method = spec.name;
  step.version = spec.version;
  step.step_key = StepKey(spec, params, inputs);
  step.params = std::move(params);
  step.inputs = std::move(inputs);
  return step;
}

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

asio::awaitable<Status> StoreArtifacts(std::vector<Artifact> artifacts, StepResult& step,
                                       const ExecuteOptions& options) {
  for (Artifact& artifact : artifacts) {
    if (!options.artifacts)
      co_return absl::InternalError("the method returned an artifact but no store was given");
    std::string key = storage::ContentKey(Sha256::HexOf(artifact.bytes));
    Result<storage::PutOutcome> put = co_await options.artifacts->PutBytes(
        key, std::move(artifact.bytes), {.durability = options.artifact_durability});
    if (!put.ok()) co_return WithCause(put.status(), "store_failed");
    step.artifacts[artifact.name] = key;
  }
  co_return absl::OkStatus();
}

// What one decoding pass left for the stream steps that finish on the event loop.
struct StreamPass {
  Result<media::PassStats> stats = absl::UnknownError("not run");
  std::vector<std::unique_ptr<media::StreamSink>> sinks;  // by call index; null when not fed
  double millis_each = 0;                                 // the pass's time, shared out
};

const StreamReader* ReaderOf(const MethodBase* method) {
  return dynamic_cast<const StreamReader*>(method);
}

// A corrupt stretch was skipped: the result says so rather than reading as if whole.
void MarkSkippedPackets(const media::PassStats& stats, Result<MethodOutput>& output) {
  if (output.ok() && stats.corrupt_packets > 0 && output->value.is_object()) {
    output->value.as_object()["decode_warnings"] = json::array{
        StrCat("skipped ", stats.corrupt_packets, " corrupt of ", stats.packets, " packets")};
  }
}

// The stream steps `group` of `calls`: a sink each, one decoding pass over all of them, then the
// output of each step that finishes on the CPU pool (StreamMethod). A failed pass fails every
// step that had a sink; the pass's time is shared among them equally. The sinks of the steps
// that finish on the loop (AsyncStreamMethod) are returned.
StreamPass RunStreamPass(const std::vector<ItemStepCall>& calls, const std::vector<size_t>& group,
                         const ItemContext& item, std::vector<StepResult>& steps,
                         std::vector<Result<MethodOutput>>& outputs) {
  Clock::time_point start = Clock::now();
  StreamPass pass;
  pass.sinks.resize(calls.size());
  std::vector<media::StreamSink*> feeding;
  for (size_t i : group) {
    const MethodSpec& spec = calls[i].method->spec();
    if (!item.stream) {
      outputs[i] = Failure(absl::StatusCode::kFailedPrecondition, "not_a_stream",
                           StrCat(spec.name, " needs a video or audio item"));
      continue;
    }
    Result<std::unique_ptr<media::StreamSink>> sink = Guarded<std::unique_ptr<media::StreamSink>>(
        spec, [&] { return ReaderOf(calls[i].method)->NewSink(item, steps[i].params); });
    if (!sink.ok()) {
      outputs[i] = sink.status();
      continue;
    }
    pass.sinks[i] = std::move(*sink);
    feeding.push_back(pass.sinks[i].get());
  }
  if (feeding.empty()) return pass;
  try {
    pass.stats = item.stream->Run(feeding);
  } catch (const std::exception& e) {
    pass.stats = Failure(absl::StatusCode::kInternal, "method_threw",
                         StrCat("a stream detector threw: ", e.what()));
  }
  pass.millis_each = MillisSince(start) / static_cast<double>(feeding.size());
  for (size_t i : group) {
    if (!pass.sinks[i]) continue;
    Clock::time_point finish = Clock::now();
    if (!pass.stats.ok()) {
      outputs[i] = pass.stats.status();
      pass.sinks[i].reset();
    } else if (const auto* method = dynamic_cast<const StreamMethod*>(calls[i].method)) {
      outputs[i] = Guarded<MethodOutput>(method->spec(), [&] {
        return method->Finish(*pass.sinks[i], *pass.stats, item, steps[i].params);
      });
      MarkSkippedPackets(*pass.stats, outputs[i]);
      pass.sinks[i].reset();
    }
    steps[i].millis = pass.millis_each + MillisSince(finish);
  }
  return pass;
}

asio::awaitable<Result<std::string>> ReadStored(storage::BlobStore* store, std::string key) {
  co_return co_await store->Get(std::move(key), std::nullopt);
}

// ItemContext::read_artifact over the item's finished steps and the artifact store.
void AllowArtifactReads(ItemContext& item, const ExecuteOptions& options) {
  if (!options.artifacts || !options.earlier_steps) return;
  storage::BlobStore* store = options.artifacts;
  const std::map<std::string, StepResult>* steps = options.earlier_steps;
  item.read_artifact = [store, steps](std::string method,
                                      std::string name) -> asio::awaitable<Result<std::string>> {
    auto step = steps->find(method);
    const json::value* key =
        step == steps->end() ? nullptr : step->second.artifacts.if_contains(name);
    if (!key || !key->is_string()) {
      return [](std::string what) -> asio::awaitable<Result<std::string>> {
        co_return absl::NotFoundError(what);
      }(StrCat("no artifact '", name, "' of ", method, " for this item"));
    }
    return ReadStored(store, std::string(key->as_string()));
  };
}

}  // namespace

json::object CostToJson(const Cost& cost) {
  json::object out{{"calls", cost.calls},
                   {"input_tokens", cost.input_tokens},
                   {"output_tokens", cost.output_tokens},
                   {"bytes", cost.bytes}};
  if (cost.retries) out["retries"] = cost.retries;
  if (cost.inputs) out["inputs"] = cost.inputs;
  if (cost.provider_millis > 0) out["provider_millis"] = cost.provider_millis;
  return out;
}

Cost CostFromJson(const json::object& doc) {
  auto number = [&doc](const char* name) -> int64_t {
    const json::value* v = doc.if_contains(name);
    return v && v->is_number() ? v->to_number<int64_t>() : 0;
  };
  const json::value* millis = doc.if_contains("provider_millis");
  return {.calls = number("calls"),
          .inputs = number("inputs"),
          .retries = number("retries"),
          .input_tokens = number("input_tokens"),
          .output_tokens = number("output_tokens"),
          .bytes = number("bytes"),
          .provider_millis = millis && millis->is_number() ? millis->to_number<double>() : 0};
}

json::object StepResultToJson(const StepResult& step) {
  json::object out{{"method", step.method},        {"version", step.version},
                   {"step_key", step.step_key},    {"params", step.params},
                   {"inputs", step.inputs},        {"millis", step.millis},
                   {"cost", CostToJson(step.cost)}};
  if (step.status.ok()) {
    out["output"] = step.output;
    if (!step.artifacts.empty()) out["artifacts"] = step.artifacts;
  } else {
    out["failure"] = {{"cause", CauseOf(step.status)},
                      {"details", std::string(step.status.message())}};
  }
  return out;
}

namespace {

// StepResultToJson's document, written member by member with `append` for its values.
void AppendStepResult(std::string& out, const StepResult& step, std::string_view source,
                      const auto& append) {
  out += "{\"method\":";
  AppendJsonString(out, step.method);
  StrAppend(out, ",\"version\":", step.version, ",\"step_key\":");
  AppendJsonString(out, step.step_key);
  out += ",\"params\":";
  append(out, step.params);
  out += ",\"inputs\":";
  append(out, step.inputs);
  out += ",\"millis\":";
  append(out, json::value(step.millis));
  const Cost& cost = step.cost;
  StrAppend(out, ",\"cost\":{\"calls\":", cost.calls, ",\"input_tokens\":", cost.input_tokens,
            ",\"output_tokens\":", cost.output_tokens, ",\"bytes\":", cost.bytes);
  if (cost.retries) StrAppend(out, ",\"retries\":", cost.retries);
  if (cost.inputs) StrAppend(out, ",\"inputs\":", cost.inputs);
  if (cost.provider_millis > 0) {
    out += ",\"provider_millis\":";
    append(out, json::value(cost.provider_millis));
  }
  out += '}';
  if (step.status.ok()) {
    out += ",\"output\":";
    append(out, step.output);
    if (!step.artifacts.empty()) {
      out += ",\"artifacts\":";
      append(out, step.artifacts);
    }
  } else {
    absl::string_view details = step.status.message();
    out += ",\"failure\":{\"cause\":";
    AppendJsonString(out, CauseOf(step.status));
    out += ",\"details\":";
    AppendJsonString(out, {details.data(), details.size()});
    out += '}';
  }
  if (!source.empty()) {
    out += ",\"source\":";
    AppendJsonString(out, source);
  }
  out += '}';
}

}  // namespace

void AppendStepResultJson(std::string& out, const StepResult& step) {
  // Params, inputs and artifacts are objects: written as such, not copied into a value first.
  AppendStepResult(out, step, {},
                   [](std::string& text, const auto& value) { AppendSerializedJson(text, value); });
}

void AppendStepResultText(std::string& out, const StepResult& step, std::string_view source) {
  AppendStepResult(out, step, source,
                   [](std::string& text, const auto& value) { AppendJsonText(text, value); });
}

Result<StepResult> StepResultFromJson(const json::object& doc) {
  try {
    StepResult step;
    step.method = std::string(doc.at("method").as_string());
    step.version = static_cast<int>(doc.at("version").to_number<int64_t>());
    step.step_key = std::string(doc.at("step_key").as_string());
    step.params = doc.at("params").as_object();
    step.inputs = doc.at("inputs").as_object();
    step.millis = doc.at("millis").to_number<double>();
    step.cost = CostFromJson(doc.at("cost").as_object());
    if (const json::value* failure = doc.if_contains("failure")) {
      const json::object& f = failure->as_object();
      step.status = Failure(static_cast<absl::StatusCode>(f.at("code").to_number<int64_t>()),
                            std::string_view(f.at("cause").as_string()),
                            std::string_view(f.at("details").as_string()));
    } else {
      step.output = doc.at("output");
      if (const json::value* artifacts = doc.if_contains("artifacts"))
        step.artifacts = artifacts->as_object();
    }
    return step;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat("not a step result document: ", e.what()));
  }
}

std::string StepKey(const MethodSpec& spec, const json::object& params,
                    const json::object& inputs) {
  // CanonicalJson of {method, version, params, inputs}, its keys in sorted order, written
  // without copying params and inputs into a document first.
  std::string text = "{\"inputs\":";
  AppendCanonicalJson(text, inputs);
  text += ",\"method\":";
  AppendJsonString(text, spec.name);
  text += ",\"params\":";
  AppendCanonicalJson(text, params);
  StrAppend(text, ",\"version\":", spec.version, "}");
  return Sha256::HexOf(text);
}

Result<json::object> ItemInputDigests(const MethodSpec& spec, const ItemContext& item) {
  json::object digests;
  for (const std::string& input : spec.inputs) {
    if (std::optional<ResultInput> needed = ParseResultInput(input)) {
      std::string_view name = needed->method;
      const json::value* result = item.results ? item.results->if_contains(name) : nullptr;
      if (!result && needed->optional) continue;
      if (!result) {
        return Failure(
            absl::StatusCode::kFailedPrecondition, "missing_input",
            StrCat(spec.name, " needs the result of ", name, ", which this item does not have"));
      }
      digests[input] = Sha256::HexOf(CanonicalJson(*result));
    } else {
      // "file", "image" and "stream" all derive from the stored bytes; what a stream method
      // sees also depends on the analysis size.
      digests[input] = input == "stream" && item.stream
                           ? StrCat(item.sha256, "@", item.stream->limits().analysis_short_side)
                           : item.sha256;
    }
  }
  return digests;
}

json::object SetInputDigests(const std::vector<SetItem>& items) {
  Sha256 hash;
  for (const SetItem& item : items) {
    hash.Update(StrCat(item.url, "\n", item.sha256, "\n", item.ok ? "ok" : "failed", "\n",
                       CanonicalJson(item.results), "\n"));
  }
  return json::object{{"set", hash.FinishHex()}};
}

asio::awaitable<std::vector<StepResult>> ExecuteItemSteps(std::vector<ItemStepCall> calls,
                                                          ItemContext item,
                                                          ExecuteOptions options) {
  std::vector<StepResult> steps;
  std::vector<Result<MethodOutput>> outputs;
  std::vector<size_t> sync_calls, stream_calls;
  for (ItemStepCall& call : calls) {
    const MethodSpec& spec = call.method->spec();
    Result<json::object> inputs =
        call.inputs ? Result<json::object>(std::move(*call.inputs)) : ItemInputDigests(spec, item);
    if (call.inputs && !call.step_key.empty()) {
      steps.emplace_back();
      steps.back().method = spec.name;
      steps.back().version = spec.version;
      steps.back().step_key = std::move(call.step_key);
      steps.back().params = std::move(call.params);
      steps.back().inputs = std::move(*inputs);
    } else {
      steps.push_back(Begin(spec, std::move(call.params), inputs.ok() ? *inputs : json::object{}));
    }
    outputs.emplace_back(absl::UnknownError("not run"));
    StepResult& step = steps.back();
    if (!inputs.ok()) {
      step.status = inputs.status();
    } else if (!Accepts(spec, item.kind)) {
      step.status =
          Failure(absl::StatusCode::kFailedPrecondition, "kind_not_accepted",
                  StrCat(spec.name, " does not take ", MediaKindName(item.kind), " items"));
    } else if (dynamic_cast<const Method*>(call.method)) {
      sync_calls.push_back(steps.size() - 1);
    } else if (ReaderOf(call.method)) {
      stream_calls.push_back(steps.size() - 1);
    } else if (!dynamic_cast<const AsyncMethod*>(call.method)) {
      step.status =
          absl::InvalidArgumentError(StrCat(spec.name, " is a set method, not an item method"));
    }
  }
  // Synchronous methods in at most one CPU-pool task per CPU thread, asynchronous ones on the
  // loop, all concurrently: independent steps overlap, and cheap methods do not pay a thread
  // hop each.
  struct Batch {
    std::vector<ItemStepCall>* calls;
    std::vector<StepResult>* steps;
    std::vector<Result<MethodOutput>>* outputs;
    const ItemContext* item;
    runtime::Runtime* runtime;
  };
  auto run_sync_group = [](Batch batch, std::vector<size_t> group) -> asio::awaitable<void> {
    co_await runtime::RunOn(batch.runtime->cpu(), [&] {
      for (size_t i : group) {
        const auto* sync = static_cast<const Method*>((*batch.calls)[i].method);
        Clock::time_point start = Clock::now();
        (*batch.outputs)[i] = Guarded<MethodOutput>(
            sync->spec(), [&] { return sync->Run(*batch.item, (*batch.steps)[i].params); });
        (*batch.steps)[i].millis = MillisSince(start);
      }
      return true;
    });
  };
  auto run_async = [](Batch batch, size_t i) -> asio::awaitable<void> {
    const auto* async = static_cast<const AsyncMethod*>((*batch.calls)[i].method);
    Clock::time_point start = Clock::now();
    try {
      (*batch.outputs)[i] = co_await async->Run(*batch.item, (*batch.steps)[i].params);
    } catch (const std::exception& e) {
      (*batch.outputs)[i] = Threw(async->spec(), e.what());
    }
    (*batch.steps)[i].millis = MillisSince(start);
  };
  // Stream methods: one CPU-pool task that decodes the item once and feeds every sink; then the
  // ones that end with a remote call, on the loop.
  auto run_stream_group = [](Batch batch, std::vector<size_t> group) -> asio::awaitable<void> {
    StreamPass pass = co_await runtime::RunOn(batch.runtime->cpu(), [&] {
      return RunStreamPass(*batch.calls, group, *batch.item, *batch.steps, *batch.outputs);
    });
    for (size_t i : group) {
      if (!pass.sinks[i]) continue;
      const auto* method = static_cast<const AsyncStreamMethod*>((*batch.calls)[i].method);
      Clock::time_point start = Clock::now();
      Result<MethodOutput>& output = (*batch.outputs)[i];
      try {
        output = co_await method->Finish(std::move(pass.sinks[i]), *pass.stats, *batch.item,
                                         (*batch.steps)[i].params);
      } catch (const std::exception& e) {
        output = Threw(method->spec(), e.what());
      }
      MarkSkippedPackets(*pass.stats, output);
      (*batch.steps)[i].millis = pass.millis_each + MillisSince(start);
    }
  };
  AllowArtifactReads(item, options);
  Batch batch{&calls, &steps, &outputs, &item, options.runtime};
  runtime::TaskGroup group(co_await asio::this_coro::executor);
  if (!stream_calls.empty()) group.Spawn(run_stream_group(batch, stream_calls));
  size_t sync_groups = std::min(sync_calls.size(), options.runtime->cpu_threads());
  for (size_t g = 0; g < sync_groups; ++g) {
    std::vector<size_t> members;
    for (size_t k = g; k < sync_calls.size(); k += sync_groups) members.push_back(sync_calls[k]);
    group.Spawn(run_sync_group(batch, std::move(members)));
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    if (steps[i].status.ok() && dynamic_cast<const AsyncMethod*>(calls[i].method))
      group.Spawn(run_async(batch, i));
  }
  co_await group.Wait();
  for (size_t i = 0; i < calls.size(); ++i) {
    StepResult& step = steps[i];
    if (!step.status.ok()) continue;
    if (!outputs[i].ok()) {
      step.status = outputs[i].status();
      continue;
    }
    step.cost = outputs[i]->cost;
    step.output = std::move(outputs[i]->value);
    MarkDecodeWarnings(item, step.output);
    step.status = co_await StoreArtifacts(std::move(outputs[i]->artifacts), step, options);
  }
  co_return steps;
}

asio::awaitable<StepResult> ExecuteItemStep(const MethodBase& method, ItemContext item,
                                            json::object params, ExecuteOptions options) {
  std::vector<ItemStepCall> calls;
  calls.push_back({&method, std::move(params)});
  std::vector<StepResult> steps =
      co_await ExecuteItemSteps(std::move(calls), std::move(item), options);
  co_return std::move(steps.front());
}

asio::awaitable<StepResult> ExecuteSetStep(const MethodBase& method,
                                           const std::vector<SetItem>& items, json::object params,
                                           ExecuteOptions options) {
  const MethodSpec& spec = method.spec();
  StepResult step = Begin(spec, std::move(params), SetInputDigests(items));
  Clock::time_point start = Clock::now();
  const json::object& resolved = step.params;
  Result<SetOutput> output = absl::InvalidArgumentError(StrCat(spec.name, " is not a set method"));
  if (const auto* sync = dynamic_cast<const SetMethod*>(&method)) {
    output = co_await runtime::RunOn(options.runtime->cpu(), [&] {
      return Guarded<SetOutput>(spec, [&] {
        return sync->Run(items, resolved, options.set_scope ? *options.set_scope : SetScope{});
      });
    });
  } else if (const auto* async = dynamic_cast<const AsyncSetMethod*>(&method)) {
    try {
      output = co_await async->Run(items, resolved);
    } catch (const std::exception& e) {
      output = Threw(spec, e.what());
    }
  }
  step.millis = MillisSince(start);
  if (!output.ok()) {
    step.status = output.status();
    co_return step;
  }
  step.output = std::move(output->value);
  step.cost = output->cost;
  step.rerun = std::move(output->rerun);
  co_return step;
}

}  // namespace sluice::methods
