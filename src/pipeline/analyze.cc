#include "pipeline/analyze.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/file_io.h"
#include "common/json_text.h"
#include "common/redact.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "media/image.h"
#include "media/image_header.h"
#include "methods/execute.h"
#include "pipeline/commit_spill.h"
#include "pipeline/index_copies.h"
#include "pipeline/index_upkeep.h"
#include "pipeline/known_images.h"
#include "runtime/limiter.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::pipeline {

namespace asio = boost::asio;
using methods::StepResult;

namespace {

// Test hook output: one whole line per write with O_APPEND, so lines from several processes
// never interleave.
void AppendToFile(const std::filesystem::path& path, const std::string& line) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  WriteAll(fd, line, path.string()).IgnoreError();
  close(fd);
}

enum class Source { kRun, kJournal, kCache };

std::string_view SourceName(Source source) {
  switch (source) {
    case Source::kRun:
      return "run";
    case Source::kJournal:
      return "journal";
    case Source::kCache:
      return "cache";
  }
  return "run";
}

// The methods a step waits for within its stage: those whose results it reads or tests.
std::set<std::string> DependenciesOf(const StepDef& step, const methods::MethodSpec& spec) {
  std::set<std::string> deps;
  for (const std::string& input : spec.inputs) {
    if (std::optional<methods::ResultInput> result = methods::ParseResultInput(input))
      deps.emplace(result->method);
  }
  if (step.when) deps.insert(step.when->method);
  return deps;
}

boost::json::object CostsJson(const std::map<std::string, methods::Cost>& costs) {
  boost::json::object out;
  for (const auto& [key, cost] : costs) out[key] = methods::CostToJson(cost);
  return out;
}

}  // namespace

boost::json::object LedgerJson(std::string_view set, const AnalysisReport& report) {
  methods::Cost total;
  for (const auto& [method, cost] : report.cost_by_method) total += cost;
  return {{"set", set},
          {"total", methods::CostToJson(total)},
          {"by_method", CostsJson(report.cost_by_method)},
          {"by_provider", CostsJson(report.cost_by_provider)}};
}

struct Analyzer::Item {
  db::ItemRecord record;
  methods::ItemContext context;
  methods::ItemMedia media;     // the decoded image or the decoding pass
  boost::json::object results;  // successful outputs by method
  std::map<std::string, StepResult> steps;
  std::map<std::string, Source> sources;
  std::filesystem::path copy;  // a scratch copy when the store keeps nothing locally
  size_t position = 0;         // in the set's list of items (by URL)
  bool settled = false;        // its rows are in the spill and its document is written
};

// The outcome of one step of one item: nothing (skipped) or a result.
struct StepOutcome {
  std::string method;
  std::optional<StepResult> step;
  Source source = Source::kRun;
};

struct Analyzer::Impl {
  runtime::Runtime& rt;
  const methods::Registry& registry;
  storage::BlobStore& store;
  db::Catalog& catalog;
  AnalyzeOptions options;

  std::string set;
  int64_t copies_made = 0;                    // names scratch copies apart
  std::vector<db::ItemFailure> failed_items;  // recorded failed by the commit
  pipeline::Journal* journal = nullptr;
  AnalysisReport report;
  std::map<std::pair<std::string, std::string>, boost::json::object>
      replay;                                             // (url, step key) → step
  std::unordered_map<std::string, db::CachedStep> cache;  // step key → cached step
  // Steps running now, by step key; duplicates wait for them.
  struct InFlight {
    explicit InFlight(asio::any_io_executor executor)
        : done(executor, asio::steady_timer::time_point::max()) {}
    asio::steady_timer done;  // cancelled when the result is in
    std::optional<StepResult> result;
  };
  std::unordered_map<std::string, std::shared_ptr<InFlight>> in_flight;
  int64_t since_sync = 0;
  std::vector<std::string> unlogged;  // executed_steps_log lines waiting for their sync
  Status fatal;

  // What settled items leave for the commit: their step results and cache entries in the spill,
  // their documents written in batches; hashes and embeddings (those held until the indexes
  // absorb them after the commit).
  std::unique_ptr<CommitSpill> spill;
  std::vector<storage::BlobWrite> documents;
  std::vector<db::HashRow> hashes;
  std::vector<db::EmbeddingRow> embeddings;
  std::set<std::pair<std::string, std::string>> embedded;  // (content, method)
  std::set<std::pair<std::string, std::string>> hashed;    // (content, method)
  // The results some step of the pipeline reads (an input or a condition): all a settled item
  // keeps of its results.
  std::set<std::string, std::less<>> read_results;
  // Settled items as set steps see them, by position in the set's list (when the pipeline has
  // set steps and the run is the whole set's).
  std::vector<methods::SetItem> views;
  bool viewed = false;
  // Item steps set steps asked to run again, by content, for the next cycle.
  std::map<std::string, std::set<std::string>> reruns;
  // Contents several items of the set hold, with how many of those have not settled, and the
  // cache's keys by content: a content's entries go once its last item has settled (another
  // item with the same bytes may still take them).
  std::map<std::string, int64_t> repeated;
  std::unordered_map<std::string, std::vector<std::string>> cache_keys;
  // Sizes the headers of a listed page's images declare, by content, read in the page's hop to
  // the blocking pool where the bytes are on this machine: an item's pixel check then needs no
  // hop of its own (waking a pool thread and the loop cost more than the read). An entry goes
  // when its item settles.
  std::unordered_map<std::string, std::optional<media::ImageSize>> declared_sizes;

  static constexpr size_t kDocumentBatch = 1000;
  const storage::PutOptions document_options{.durability = storage::Durability::kDeferred,
                                             .overwrite = true};

  Impl(runtime::Runtime& r, const methods::Registry& reg, storage::BlobStore& s, db::Catalog& c,
       AnalyzeOptions o)
      : rt(r), registry(reg), store(s), catalog(c), options(std::move(o)) {}

  // Journals finished steps of one item (a wave's, in one append). Crashes on purpose when the
  // test hook says so.
  asio::awaitable<void> Checkpoint(const std::string& url, std::span<const StepResult> steps) {
    std::vector<std::string> lines;
    lines.reserve(steps.size());
    std::string prefix = "{\"item\":";
    AppendJsonString(prefix, url);
    prefix += ",\"step\":";
    for (const StepResult& step : steps) {
      std::string& line = lines.emplace_back(prefix);
      methods::AppendStepResultJson(line, step);
      line += '}';
      if (!options.executed_steps_log.empty())
        unlogged.push_back(StrCat(set, "\t", url, "\t", step.method, "\n"));
    }
    Status appended = journal->AppendLines(lines);
    if (!appended.ok() && fatal.ok()) fatal = appended;
    int64_t every =
        options.journal_sync_every > 0 ? options.journal_sync_every : journal->sync_every();
    since_sync += static_cast<int64_t>(steps.size());
    if (since_sync >= every) {
      since_sync = 0;
      // Lines appended before this sync starts are durable once it returns.
      std::vector<std::string> covered = std::exchange(unlogged, {});
      Status synced = co_await runtime::RunOn(rt.blocking(), [this] { return journal->Sync(); });
      if (!synced.ok() && fatal.ok()) fatal = synced;
      if (synced.ok()) {
        for (const std::string& line : covered) AppendToFile(options.executed_steps_log, line);
      }
    }
    // At least: while this step's sync was awaited, other steps may have run past the mark
    // (a slow machine, a sanitizer build), and the crash must still happen.
    if (options.crash_after_steps > 0 && report.steps_run >= options.crash_after_steps)
      raise(SIGKILL);
  }

  std::optional<StepResult> Reuse(const std::string& url, const std::string& key, Source& source) {
    if (auto it = replay.empty() ? replay.end() : replay.find({url, key}); it != replay.end()) {
      Result<StepResult> step = methods::StepResultFromJson(it->second);
      if (step.ok()) {
        source = Source::kJournal;
        return std::move(*step);
      }
    }
    if (auto it = cache.empty() ? cache.end() : cache.find(key); it != cache.end()) {
      StepResult step;
      step.method = it->second.method;
      step.version = it->second.version;
      step.step_key = key;
      boost::system::error_code ec;
      step.output = boost::json::parse(it->second.output_json, ec);
      boost::json::value artifacts = boost::json::parse(it->second.artifacts_json, ec);
      if (!ec && artifacts.is_object()) step.artifacts = artifacts.as_object();
      source = Source::kCache;
      return step;
    }
    return std::nullopt;
  }

  // What becomes of one step of an item: skipped (no step), a known result (an input failed, or
  // the journal or the cache has it), or `call` filled in (its method set) when it must run.
  StepOutcome Decide(Item& item, const StepDef& def, methods::ItemStepCall& call) {
    StepOutcome outcome{.method = def.method};
    const methods::MethodSpec& spec = registry.Find(def.method)->spec();
    MediaKind kind = item.context.kind;
    bool applies = methods::Accepts(spec, kind) &&
                   (def.kinds.empty() ||
                    std::find(def.kinds.begin(), def.kinds.end(), kind) != def.kinds.end()) &&
                   (!def.when || def.when->Holds(item.results));
    for (const std::string& dep : DependenciesOf(def, spec)) {
      if (item.results.contains(dep) || (def.when && dep == def.when->method)) continue;
      if (std::find(spec.inputs.begin(), spec.inputs.end(), StrCat("result?:", dep)) !=
          spec.inputs.end())
        continue;  // optional: the step runs without it
      auto failed = item.steps.find(dep);
      if (failed != item.steps.end() && !failed->second.status.ok()) {
        StepResult step;
        step.method = spec.name;
        step.version = spec.version;
        step.params = def.params;
        step.status = Failure(
            absl::StatusCode::kFailedPrecondition, "input_failed",
            StrCat(spec.name, " needs ", dep, ", which failed: ", failed->second.status.message()));
        outcome.step = std::move(step);
        return outcome;
      }
      applies = false;  // its input never came (not applicable to this item)
    }
    if (!applies) return outcome;
    Result<boost::json::object> inputs = methods::ItemInputDigests(spec, item.context);
    if (!inputs.ok()) return outcome;
    std::string key = methods::StepKey(spec, def.params, *inputs);
    if (std::optional<StepResult> reused = Reuse(item.record.url, key, outcome.source)) {
      reused->params = def.params;
      reused->inputs = *inputs;
      outcome.step = std::move(reused);
      return outcome;
    }
    call = {registry.Find(def.method), def.params, std::move(*inputs), std::move(key)};
    return outcome;
  }

  void Account(const StepResult& step) {
    if (options.metrics)
      options.metrics->StepRan(step.method, step.millis / 1000.0, step.status.ok());
    // Local methods bill nothing; an input carried by another item's request costs no call.
    if (step.cost.calls == 0 && step.cost.inputs == 0) return;
    report.cost_by_method[step.method] += step.cost;
    if (const boost::json::value* provider = step.params.if_contains("provider");
        provider && provider->is_string())
      report.cost_by_provider[std::string(provider->as_string())] += step.cost;
  }

  void Apply(Item& item, StepOutcome outcome) {
    if (!outcome.step) {
      ++report.steps_skipped;
      return;
    }
    if (outcome.source == Source::kJournal) ++report.steps_replayed;
    if (outcome.source == Source::kCache) ++report.steps_cached;
    if (outcome.step->status.ok()) {
      item.results[outcome.method] = outcome.step->output;
    } else {
      ++report.steps_failed;
      item.results.erase(outcome.method);
    }
    item.sources[outcome.method] = outcome.source;
    item.steps[outcome.method] = std::move(*outcome.step);
  }

  const std::filesystem::path* LocalCopy(const std::string& sha256) const {
    if (!options.local_copies) return nullptr;
    auto it = options.local_copies->find(sha256);
    return it == options.local_copies->end() ? nullptr : &it->second;
  }

  // Makes the item's bytes readable as a file: in place in a local store, acquisition's file
  // from this process, or a copy streamed from the store into a scratch file of this item's
  // own (another item with the same bytes has its own copy). The read's error otherwise, with
  // cause "media_unreadable".
  asio::awaitable<Status> Open(Item& item) {
    if (!item.context.file.empty()) co_return absl::OkStatus();
    const std::string& key = item.record.store_key;
    if (std::optional<std::filesystem::path> local = store.LocalPath(key)) {
      item.context.file = *local;
    } else if (const std::filesystem::path* kept = LocalCopy(item.record.sha256)) {
      item.context.file = *kept;
    } else {
      item.copy = options.scratch_dir / StrCat(item.record.sha256, ".", ++copies_made, ".media");
      Status copied = co_await storage::CopyToFile(store, rt.blocking(), key, item.copy);
      if (!copied.ok()) {
        item.copy.clear();
        co_return Failure(
            copied.code(), "media_unreadable",
            StrCat("cannot read ", key, " from ", store.Describe(), ": ", copied.message()));
      }
      item.context.file = item.copy;
    }
    item.media = registry.OpenMedia(item.context, options.limits);
    co_return absl::OkStatus();
  }

  // A fault of the item itself, found before any step ran (an image past the pixel limit):
  // the item fails once, with that cause, instead of every step failing with the same message.
  // The commit records it failed in the same transaction, and its later steps skip it.
  asio::awaitable<Status> CheckItem(Item& item) {
    if (item.context.kind != MediaKind::kImage) co_return absl::OkStatus();
    std::optional<media::ImageSize> size;
    if (auto listed = declared_sizes.find(item.record.sha256); listed != declared_sizes.end()) {
      size = listed->second;  // the entry goes when the item settles
    } else {
      std::filesystem::path file = item.context.file;
      media::SharedImage* image = item.context.image;  // its steps reuse the header it reads
      auto read_size = [file, image] {
        return image ? image->DeclaredSize() : media::ReadImageSize(file);
      };
      size = co_await runtime::RunOn(rt.blocking(), read_size);
    }
    if (!size) co_return absl::OkStatus();  // the decoder says what is wrong, per step
    co_return media::CheckPixels(size->width, size->height, options.limits.image.max_pixels);
  }

  void FailItem(Item& item, const Status& why) {
    item.record.status = db::ItemStatus::kFailed;
    item.record.failure_cause = CauseOf(why);
    item.record.failure_details = RedactSecrets(std::string(why.message()));
    failed_items.push_back(
        {item.record.url, item.record.failure_cause, item.record.failure_details});
  }

  // The item's scratch copy (if it has one) goes once its stage is over.
  void CloseCopy(Item& item) {
    if (item.copy.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(item.copy, ignored);
    item.copy.clear();
    item.context.file.clear();
    item.media = {};
    item.context.image = nullptr;
    item.context.stream = nullptr;
  }

  // Every step of `steps` that applies to the item's kind fails with `why`: its media could not
  // be read, and the item's record says so rather than missing its results.
  void FailSteps(Item& item, const std::vector<StepDef>& steps, const Status& why) {
    for (const StepDef& def : steps) {
      const methods::MethodSpec& spec = registry.Find(def.method)->spec();
      StepOutcome outcome{.method = def.method};
      if (methods::Accepts(spec, item.context.kind)) {
        StepResult step;
        step.method = spec.name;
        step.version = spec.version;
        step.params = def.params;
        step.status = why;
        outcome.step = std::move(step);
      }
      Apply(item, std::move(outcome));
    }
  }

  // One item's steps of one stage: waves of steps whose dependencies are done, each wave
  // concurrently. Outputs are applied after each wave so no step sees a result map change.
  // The item's stage, then (`settle`: the last one) its settling. `owned`, when given, is the
  // item itself, let go of once it settled.
  asio::awaitable<void> ItemStage(Item& item, [[maybe_unused]] std::unique_ptr<Item> owned,
                                  std::vector<StepDef> steps,
                                  [[maybe_unused]] runtime::Limiter::Permit permit, bool settle) {
    co_await RunItemStage(item, std::move(steps));
    if (settle && fatal.ok()) {
      if (Status settled = co_await Settle(item); !settled.ok() && fatal.ok()) fatal = settled;
    }
  }

  asio::awaitable<void> RunItemStage(Item& item, std::vector<StepDef> steps) {
    if (Status opened = co_await Open(item); !opened.ok()) {
      FailSteps(item, steps, opened);
      co_return;
    }
    if (Status fit = co_await CheckItem(item); !fit.ok()) {
      FailItem(item, fit);
      CloseCopy(item);
      co_return;
    }
    std::set<std::string> pending;
    for (const StepDef& step : steps) pending.insert(step.method);
    while (!steps.empty() && fatal.ok()) {
      std::vector<StepDef> wave, later;
      for (StepDef& step : steps) {
        std::set<std::string> deps = DependenciesOf(step, registry.Find(step.method)->spec());
        bool ready = std::none_of(deps.begin(), deps.end(),
                                  [&](const std::string& d) { return pending.contains(d); });
        (ready ? wave : later).push_back(std::move(step));
      }
      if (wave.empty()) break;  // a cycle among steps: ValidatePipeline refuses those
      std::vector<StepOutcome> outcomes;
      std::vector<methods::ItemStepCall> calls;
      std::vector<size_t> called;
      for (size_t i = 0; i < wave.size(); ++i) {
        methods::ItemStepCall call{};
        outcomes.push_back(Decide(item, wave[i], call));
        if (call.method) {
          calls.push_back(std::move(call));
          called.push_back(i);
        }
      }
      // A step another item (the same bytes under another URL) is running now is not run
      // twice: this item waits for it and takes its result, as from the cache.
      std::vector<std::pair<size_t, std::shared_ptr<InFlight>>> waits;
      std::vector<std::shared_ptr<InFlight>> owned;
      for (size_t j = 0; j < calls.size();) {
        auto [it, fresh] = in_flight.try_emplace(calls[j].step_key);
        if (fresh) {
          it->second = std::make_shared<InFlight>(rt.loop_executor());
          owned.push_back(it->second);
          ++j;
        } else {
          waits.emplace_back(called[j], it->second);
          calls.erase(calls.begin() + static_cast<ptrdiff_t>(j));
          called.erase(called.begin() + static_cast<ptrdiff_t>(j));
        }
      }
      if (!calls.empty()) {
        std::vector<std::string> keys;
        for (const methods::ItemStepCall& call : calls) keys.push_back(call.step_key);
        std::vector<StepResult> ran = co_await methods::ExecuteItemSteps(
            std::move(calls), item.context,
            {.runtime = &rt,
             .artifacts = &store,
             .artifact_durability = storage::Durability::kDeferred,
             .earlier_steps = &item.steps});
        for (const StepResult& step : ran) {
          ++report.steps_run;
          report.millis_by_method[step.method] += step.millis;
          Account(step);
        }
        co_await Checkpoint(item.record.url, ran);
        for (size_t j = 0; j < ran.size(); ++j) {
          if (ran[j].status.ok()) {
            Remember({keys[j], item.record.sha256, ran[j].method, ran[j].version,
                      JsonText(ran[j].output), JsonText(ran[j].artifacts)});
          }
          in_flight.erase(keys[j]);
          // Only items with the same bytes waiting for this step (they hold it too) need a copy.
          if (owned[j].use_count() > 1) owned[j]->result = ran[j];
          owned[j]->done.cancel();
          outcomes[called[j]].step = std::move(ran[j]);
        }
      }
      for (auto& [index, pending] : waits) {
        if (!pending->result) {
          boost::system::error_code ignored;
          co_await pending->done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        }
        StepResult shared = *pending->result;
        shared.millis = 0;
        shared.cost = {};  // paid once, by the item that ran it
        outcomes[index].step = std::move(shared);
        outcomes[index].source = Source::kCache;
      }
      for (size_t i = 0; i < wave.size(); ++i) {
        pending.erase(wave[i].method);
        Apply(item, std::move(outcomes[i]));
      }
      steps = std::move(later);
    }
    CloseCopy(item);
  }

  void Remember(db::CachedStep entry) {
    auto [it, added] = cache.try_emplace(entry.step_key);
    if (added) cache_keys[entry.item_sha256].push_back(entry.step_key);
    it->second = std::move(entry);
  }

  // A step's row. `text_cached`: the step ran here or came from the cache, whose entry for its
  // key holds its output's text (a replayed step's output may differ from that entry's).
  db::StepRow RowOf(const std::string& url, const StepResult& step, bool text_cached) const {
    db::StepRow row{.url = url,
                    .method = step.method,
                    .version = step.version,
                    .step_key = step.step_key,
                    .ok = step.status.ok(),
                    .millis = step.millis};
    if (step.status.ok()) {
      auto cached = text_cached ? cache.find(step.step_key) : cache.end();
      if (cached != cache.end()) {
        row.output_json = cached->second.output_json;
        row.artifacts_json = cached->second.artifacts_json;
      } else {
        row.output_json = JsonText(step.output);
        row.artifacts_json = JsonText(step.artifacts);
      }
    } else {
      row.failure_cause = CauseOf(step.status);
      row.failure_details = RedactSecrets(std::string(step.status.message()));
    }
    return row;
  }

  asio::awaitable<Status> PutDocuments(size_t at_least) {
    if (documents.empty() || documents.size() < at_least) co_return absl::OkStatus();
    co_return co_await store.PutBatch(std::exchange(documents, {}), document_options);
  }

  // An item whose analysis is over: its rows go to the spill, its result document to the
  // store (in batches), its hashes and embeddings to the commit; it keeps only the results
  // that later steps read. An item settled again (steps a set step asked for) replaces the rows
  // of those steps and adds them to its stored document.
  asio::awaitable<Status> Settle(Item& item) {
    std::vector<db::StepRow> rows;
    std::vector<db::CachedStep> to_cache;
    // The document's "steps" member, written as text once ({"method": step, ...}).
    std::string steps_text = "{";
    const std::string& sha256 = item.record.sha256;
    for (const auto& [method, step] : item.steps) {
      Source source = item.sources[method];
      if (steps_text.size() > 1) steps_text += ',';
      AppendJsonString(steps_text, method);
      steps_text += ':';
      methods::AppendStepResultText(steps_text, step, SourceName(source));
      rows.push_back(RowOf(item.record.url, step, source != Source::kJournal));
      const std::string& output = registry.Find(method)->spec().output;
      if (step.status.ok() && output == "hash") {
        std::optional<uint64_t> hash = methods::HashOf(step.output);
        Result<index::VectorId> id = index::IdFromSha256(sha256);
        if (hash && id.ok() && hashed.emplace(sha256, method).second)
          hashes.push_back(
              {.item_sha256 = sha256, .item_id = *id, .method = method, .hash = *hash});
      }
      if (step.status.ok() && output == "embedding") {
        std::optional<methods::Embedding> embedding = methods::EmbeddingOf(step.output);
        Result<index::VectorId> id = index::IdFromSha256(sha256);
        // One content under two URLs of the set is stored once.
        if (embedding && id.ok() && embedded.emplace(sha256, method).second) {
          embeddings.push_back({.item_sha256 = sha256,
                                .item_id = *id,
                                .method = method,
                                .model = std::move(embedding->model),
                                .vector = std::move(embedding->vector)});
        }
      }
      if (step.status.ok() && source != Source::kCache) {
        to_cache.push_back({step.step_key, sha256, step.method, step.version,
                            rows.back().output_json, rows.back().artifacts_json});
      }
    }
    steps_text += '}';
    bool again = item.settled;
    if (Status spilled = spill->Append(rows, to_cache, again); !spilled.ok()) co_return spilled;
    std::string key = Analyzer::ResultKey(set, item.record.url);
    std::string text;
    if (again) {
      // Rare (only set steps asking for more): the document written before, read back.
      if (Status put = co_await PutDocuments(0); !put.ok()) co_return put;
      Result<std::string> before = co_await store.Get(key);
      if (!before.ok()) co_return before.status();
      boost::system::error_code ec;
      boost::json::value parsed = boost::json::parse(*before, ec);
      if (ec || !parsed.is_object() || !parsed.as_object().contains("steps"))
        co_return absl::DataLossError(StrCat("the result document ", key, " is not one"));
      boost::json::object& doc = parsed.as_object();
      boost::json::value added = boost::json::parse(steps_text);
      for (auto& [method, step] : added.as_object())
        doc["steps"].as_object()[method] = std::move(step);
      text = JsonText(doc);
    } else {
      // {item's fields, "set", "steps"}: the item's object with two members more.
      text = JsonText(db::ItemToJson(item.record));
      text.pop_back();
      text += ",\"set\":";
      AppendJsonString(text, set);
      StrAppend(text, ",\"steps\":", steps_text, "}");
    }
    documents.push_back({std::move(key), std::move(text)});
    if (Status put = co_await PutDocuments(kDocumentBatch); !put.ok()) co_return put;

    item.steps.clear();
    item.sources.clear();
    if (item.copy.empty()) {  // a scratch copy goes with its stage (CloseCopy)
      item.context.file.clear();
      item.media = {};
      item.context.image = nullptr;
      item.context.stream = nullptr;
    }
    for (auto it = item.results.begin(); it != item.results.end();) {
      it = read_results.contains(it->key()) ? std::next(it) : item.results.erase(it);
    }
    if (viewed) views.at(item.position) = ViewOf(item);
    declared_sizes.erase(sha256);
    if (!item.settled) {
      item.settled = true;
      auto left = repeated.find(sha256);
      bool last_holder = left == repeated.end() || --left->second <= 0;
      if (left != repeated.end() && left->second <= 0) repeated.erase(left);
      if (auto keys = cache_keys.find(sha256); last_holder && keys != cache_keys.end()) {
        for (const std::string& step_key : keys->second) cache.erase(step_key);
        cache_keys.erase(keys);
      }
    }
    co_return absl::OkStatus();
  }

  // The next page of the set's items after the URL `after` (the chosen items, all in the first
  // page), their contents' cached results remembered.
  asio::awaitable<Result<std::vector<db::ItemRecord>>> ListPage(std::string after, bool first) {
    const std::vector<std::string>& only = options.only_urls;
    if (!only.empty() && !first) co_return std::vector<db::ItemRecord>{};
    auto list = [&] {
      return only.empty()
                 ? catalog.ListItemsPage(set, {.after_url = after, .limit = options.page_items})
                 : catalog.ListItems(set, only);
    };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> page,
                               co_await runtime::RunOn(rt.blocking(), list));
    std::vector<std::string> shas;
    std::vector<std::pair<std::string, std::filesystem::path>> image_files;
    for (const db::ItemRecord& record : page) {
      if (record.status != db::ItemStatus::kOk) continue;
      shas.push_back(record.sha256);
      if (record.kind != MediaKindName(MediaKind::kImage)) continue;
      if (std::optional<std::filesystem::path> local = store.LocalPath(record.store_key)) {
        image_files.emplace_back(record.sha256, *std::move(local));
      } else if (const std::filesystem::path* kept = LocalCopy(record.sha256)) {
        image_files.emplace_back(record.sha256, *kept);
      }
    }
    std::vector<std::optional<media::ImageSize>> sizes(image_files.size());
    auto cached_of = [&] {
      for (size_t i = 0; i < image_files.size(); ++i)
        sizes[i] = media::ReadImageSize(image_files[i].second);
      return catalog.CachedSteps(shas);
    };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::CachedStep> cached,
                               co_await runtime::RunOn(rt.blocking(), cached_of));
    for (size_t i = 0; i < image_files.size(); ++i) declared_sizes[image_files[i].first] = sizes[i];
    for (db::CachedStep& entry : cached) {
      if (!cache.contains(entry.step_key)) Remember(std::move(entry));
    }
    co_return page;
  }

  std::unique_ptr<Item> NewItem(db::ItemRecord record, size_t position) {
    auto item = std::make_unique<Item>();
    if (record.status == db::ItemStatus::kOk) {
      item->context.sha256 = record.sha256;
      item->context.mime = record.mime;
      item->context.kind = MediaKindFromName(record.kind).value_or(MediaKind::kOther);
      item->context.size = record.size;
      item->context.results = &item->results;
    }
    item->record = std::move(record);
    item->position = position;
    if (viewed && views.size() <= position) views.resize(position + 1);
    return item;
  }

  // An item's steps in a cycle: the cycle's (`base`), and those a set step asked again for its
  // content. None for an item that was not stored.
  std::vector<StepDef> StepsOf(const Item& item, const std::vector<StepDef>& base,
                               const std::map<std::string, std::set<std::string>>& asked) const {
    if (item.record.status != db::ItemStatus::kOk) return {};
    std::vector<StepDef> steps = base;
    auto again = asked.find(item.record.sha256);
    if (again == asked.end()) return steps;
    for (const std::string& method : again->second) {
      bool listed = std::any_of(steps.begin(), steps.end(),
                                [&](const StepDef& s) { return s.method == method; });
      const methods::MethodBase* found = registry.Find(method);
      if (listed || !found || methods::IsSetMethod(found)) continue;
      Result<boost::json::object> params = methods::ResolveMethodParams(*found, {});
      if (params.ok()) steps.push_back({.method = method, .params = std::move(*params)});
    }
    return steps;
  }

  // An item as set steps see it.
  static methods::SetItem ViewOf(const Item& item) {
    return {.url = item.record.url,
            .sha256 = item.record.sha256,
            .kind = item.record.kind,
            .ok = item.record.status == db::ItemStatus::kOk,
            .results = item.results};
  }

  // Views of items that have not settled (set stages before the last cycle's).
  void ViewAll(const std::vector<std::unique_ptr<Item>>& items) {
    for (const auto& item : items) views.at(item->position) = ViewOf(*item);
  }

  asio::awaitable<void> SetStage(const std::vector<StepDef>& steps) {
    for (const StepDef& def : steps) {
      if (!fatal.ok()) co_return;
      const std::vector<methods::SetItem>& view = views;
      const methods::MethodBase* method = registry.Find(def.method);
      std::string key =
          methods::StepKey(method->spec(), def.params, methods::SetInputDigests(view));
      Source source = Source::kRun;
      std::optional<StepResult> step = Reuse("", key, source);  // set steps live under item ""
      if (step) ++report.steps_replayed;
      if (!step) {
        std::optional<IndexedKnownImages> known;
        if (options.indexes) known.emplace(*options.indexes, catalog);
        methods::SetScope scope{.set = set, .known = known ? &*known : nullptr};
        step = co_await methods::ExecuteSetStep(*method, view, def.params,
                                                {.runtime = &rt, .set_scope = &scope});
        ++report.steps_run;
        report.millis_by_method[def.method] += step->millis;
        Account(*step);
        co_await Checkpoint("", {&*step, 1});
      }
      if (step->status.ok()) {
        report.set_results[def.method] = step->output;
      } else {
        ++report.steps_failed;
      }
      for (const methods::ItemRerun& rerun : step->rerun)
        reruns[rerun.sha256].insert(rerun.methods.begin(), rerun.methods.end());
      set_steps.push_back(std::move(*step));
    }
  }

  std::vector<StepResult> set_steps;
};

Analyzer::Analyzer(runtime::Runtime& runtime, const methods::Registry& registry,
                   storage::BlobStore& store, db::Catalog& catalog, AnalyzeOptions options)
    : impl_(std::make_unique<Impl>(runtime, registry, store, catalog, std::move(options))) {}

Analyzer::~Analyzer() = default;

std::string Analyzer::ResultKey(std::string_view set, std::string_view url) {
  return StrCat("results/", set, "/", Sha256::HexOf(url).substr(0, 16), ".json");
}

std::string Analyzer::LedgerKey(std::string_view set) {
  return StrCat("results/", set, "/ledger.json");
}

std::filesystem::path JournalPath(const std::filesystem::path& data_dir, std::string_view set) {
  return data_dir / "journal" / StrCat(set, ".jsonl");
}

asio::awaitable<Result<AnalysisReport>> Analyzer::Run(std::string set, PipelineDef pipeline,
                                                      Journal& journal) {
  Impl& impl = *impl_;
  auto start = std::chrono::steady_clock::now();
  impl.set = set;
  impl.journal = &journal;
  for (const boost::json::object& entry : journal.replayed()) {
    const boost::json::value* item = entry.if_contains("item");
    const boost::json::value* step = entry.if_contains("step");
    if (!item || !item->is_string() || !step || !step->is_object()) continue;
    const boost::json::value* key = step->as_object().if_contains("step_key");
    if (!key || !key->is_string()) continue;
    impl.replay[{std::string(item->as_string()), std::string(key->as_string())}] =
        step->as_object();
  }

  impl.viewed = impl.options.only_urls.empty() &&
                std::any_of(pipeline.cycles.begin(), pipeline.cycles.end(),
                            [](const CycleDef& cycle) { return !cycle.set_steps.empty(); });
  auto repeated = [&] { return impl.catalog.RepeatedContents(set); };
  SLUICE_CO_ASSIGN_OR_RETURN(impl.repeated, co_await runtime::RunOn(impl.rt.blocking(), repeated));
  for (const CycleDef& cycle : pipeline.cycles) {
    for (const auto* steps : {&cycle.item_steps, &cycle.set_steps}) {
      for (const StepDef& step : *steps) {
        std::set<std::string> read = DependenciesOf(step, impl.registry.Find(step.method)->spec());
        impl.read_results.insert(read.begin(), read.end());
      }
    }
  }
  std::filesystem::path spill_dir = impl.options.scratch_dir.empty()
                                        ? std::filesystem::temp_directory_path()
                                        : impl.options.scratch_dir;
  SLUICE_CO_ASSIGN_OR_RETURN(impl.spill, CommitSpill::Create(spill_dir));

  size_t concurrency = impl.options.concurrency
                           ? impl.options.concurrency
                           : std::max<size_t>(1, std::thread::hardware_concurrency());
  runtime::Limiter limiter(impl.rt.loop_executor(), concurrency);
  // Items are listed a page at a time and let go of as they settle; a pipeline of several
  // cycles keeps them all instead (each cycle's steps read the results of the ones before).
  bool keep = pipeline.cycles.size() > 1;
  std::vector<std::unique_ptr<Item>> kept;
  for (size_t c = 0; c < pipeline.cycles.size() + 1 && impl.fatal.ok(); ++c) {
    bool extra = c == pipeline.cycles.size();     // only for reruns asked by the last set stage
    bool last = c + 1 >= pipeline.cycles.size();  // items settle as their stage ends
    if (extra && impl.reruns.empty()) break;
    ++impl.report.cycles;
    std::map<std::string, std::set<std::string>> asked = std::exchange(impl.reruns, {});
    const std::vector<StepDef> none;
    const std::vector<StepDef>& base = extra ? none : pipeline.cycles[c].item_steps;
    runtime::TaskGroup group(impl.rt.loop_executor());
    if (keep && c > 0) {
      for (auto& item : kept) {
        std::vector<StepDef> steps = impl.StepsOf(*item, base, asked);
        if (steps.empty() || !impl.fatal.ok()) continue;
        runtime::Limiter::Permit permit = co_await limiter.Acquire();
        group.Spawn(impl.ItemStage(*item, nullptr, std::move(steps), std::move(permit), last));
      }
    } else {
      std::string after;
      size_t position = 0;
      for (bool first = true; impl.fatal.ok(); first = false) {
        SLUICE_CO_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> page,
                                   co_await impl.ListPage(after, first));
        if (page.empty()) break;
        after = page.back().url;
        for (db::ItemRecord& record : page) {
          size_t at = position++;
          // Run again: only the items whose content a set step asked for, settled before.
          if (extra && !asked.contains(record.sha256)) continue;
          std::unique_ptr<Item> item = impl.NewItem(std::move(record), at);
          if (extra) {
            item->results = impl.views.at(at).results;
            item->settled = true;
          }
          std::vector<StepDef> steps = impl.StepsOf(*item, base, asked);
          if (steps.empty()) {
            if (keep) {
              kept.push_back(std::move(item));
            } else if (!extra && impl.fatal.ok()) {
              if (Status settled = co_await impl.Settle(*item); !settled.ok()) impl.fatal = settled;
            }
            continue;
          }
          runtime::Limiter::Permit permit = co_await limiter.Acquire();
          Item& started = *item;
          std::unique_ptr<Item> owned;
          if (keep) {
            kept.push_back(std::move(item));
          } else {
            owned = std::move(item);
          }
          group.Spawn(
              impl.ItemStage(started, std::move(owned), std::move(steps), std::move(permit), last));
        }
      }
    }
    co_await group.Wait();
    // Kept items with nothing to run in the last cycle (failed to acquire, or no step applies).
    for (auto& item : kept) {
      if (!last || item->settled || !impl.fatal.ok()) continue;
      if (Status settled = co_await impl.Settle(*item); !settled.ok()) impl.fatal = settled;
    }
    if (!extra && impl.options.only_urls.empty()) {
      if (!last) impl.ViewAll(kept);
      co_await impl.SetStage(pipeline.cycles[c].set_steps);
    }
  }
  SLUICE_CO_RETURN_IF_ERROR(impl.fatal);
  SLUICE_CO_RETURN_IF_ERROR(
      co_await runtime::RunOn(impl.rt.blocking(), [&] { return journal.Sync(); }));

  // Finalize: the last result documents, then one transaction.
  db::AnalysisCommit commit{.only_urls = impl.options.only_urls,
                            .failed_items = impl.failed_items,
                            .embeddings = std::move(impl.embeddings),
                            .hashes = std::move(impl.hashes),
                            .more = impl.spill.get()};
  // The ledger is the set run's; the real-time path reports its costs to its caller.
  if (impl.options.only_urls.empty())
    impl.documents.push_back({LedgerKey(set), JsonText(LedgerJson(set, impl.report))});
  SLUICE_CO_RETURN_IF_ERROR(co_await impl.PutDocuments(0));
  for (const StepResult& step : impl.set_steps) commit.steps.push_back(impl.RowOf("", step, false));
  SLUICE_CO_RETURN_IF_ERROR(co_await impl.store.Flush());
  SLUICE_CO_ASSIGN_OR_RETURN(impl.report.totals, co_await runtime::RunOn(impl.rt.blocking(), [&] {
                               return impl.catalog.CommitAnalysis(set, commit, impl.options.lease);
                             }));
  journal.Discard();  // committed: the checkpoints have done their job
  impl.report.embeddings = static_cast<int64_t>(commit.embeddings.size());
  if (impl.options.indexes && !commit.embeddings.empty()) {
    auto absorb = [&] { return AbsorbEmbeddings(*impl.options.indexes, commit.embeddings); };
    Result<int64_t> indexed = co_await runtime::RunOn(impl.rt.cpu(), absorb);
    if (indexed.ok()) {
      impl.report.indexed = *indexed;
    } else {
      impl.report.index_error = std::string(indexed.status().message());
    }
  }
  int64_t hashes_added = 0;
  if (impl.options.indexes && !commit.hashes.empty()) {
    auto absorb = [&] { return AbsorbHashes(*impl.options.indexes, commit.hashes); };
    Result<int64_t> hashes = co_await runtime::RunOn(impl.rt.cpu(), absorb);
    if (hashes.ok()) {
      hashes_added = *hashes;
    } else if (impl.report.index_error.empty()) {
      impl.report.index_error = std::string(hashes.status().message());
    }
  }
  // The index files that changed, named from the rows (no copy of the vectors), only when they
  // are copied to a store.
  std::set<std::string> changed;
  if (impl.options.index_copies) {
    if (impl.report.indexed > 0) {
      for (const db::EmbeddingRow& row : commit.embeddings)
        changed.insert(
            impl.options.indexes
                ->FileOf(IndexSpecOf({.method = row.method,
                                      .model = row.model,
                                      .dimensions = static_cast<int>(row.vector.size())}))
                .filename());
    }
    if (hashes_added > 0) {
      for (const db::HashRow& row : commit.hashes)
        changed.insert(impl.options.indexes->HashesFileOf(row.method).filename());
    }
  }
  if (!changed.empty()) {
    std::vector<std::string> names(changed.begin(), changed.end());
    Status published = co_await PublishIndexFiles(*impl.options.index_copies,
                                                  impl.options.indexes->folder(), std::move(names));
    if (!published.ok() && impl.report.index_error.empty())
      impl.report.index_error =
          StrCat("copying the index files to the store: ", published.message());
  }
  impl.report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  co_return impl.report;
}

}  // namespace sluice::pipeline
