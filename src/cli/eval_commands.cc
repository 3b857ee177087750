#include "cli/eval_commands.h"

#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "common/file_io.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "quality/corpus_scores.h"

namespace sluice::cli {
namespace {
namespace json = boost::json;

Result<json::object> ReadJsonObject(const std::filesystem::path& file, std::string_view what) {
  SLUICE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(file.string()));
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return Failure(absl::StatusCode::kInvalidArgument, "bad_input",
                   StrCat(file.string(), ": not a JSON object (", what, ")"));
  }
  return std::move(value.as_object());
}

// Every file the truth names, in its order.
std::vector<std::string> CorpusFiles(const json::object& truth) {
  std::vector<std::string> files;
  auto add = [&](const json::value& file) {
    if (file.is_string()) files.emplace_back(file.as_string());
  };
  for (const char* section : {"creatives", "videos"}) {
    if (const json::value* list = truth.if_contains(section); list && list->is_array()) {
      for (const json::value& entry : list->as_array())
        if (entry.is_object() && entry.as_object().contains("file")) add(entry.at("file"));
    }
  }
  if (const json::value* groups = truth.if_contains("near"); groups && groups->is_array()) {
    for (const json::value& group : groups->as_array()) {
      const json::value* members =
          group.is_object() ? group.as_object().if_contains("files") : nullptr;
      if (members && members->is_array())
        for (const json::value& file : members->as_array()) add(file);
    }
  }
  return files;
}

// The set's recorded steps and failures, by the corpus's file names.
Result<quality::CorpusOutputs> OutputsOf(const app::DataDir& data, const std::string& set,
                                         const std::map<std::string, std::string>& file_of_url,
                                         json::object set_results) {
  quality::CorpusOutputs outputs{.set_results = std::move(set_results), .file_of_url = file_of_url};
  SLUICE_ASSIGN_OR_RETURN(std::vector<db::StepRow> steps, data.db->ListSteps(set));
  for (const db::StepRow& step : steps) {
    auto file = file_of_url.find(step.url);
    if (file == file_of_url.end()) continue;  // a set step
    if (!step.ok) continue;                   // scored as nothing found
    boost::system::error_code ec;
    json::value output = json::parse(step.output_json, ec);
    if (ec || !output.is_object()) continue;
    outputs.results[file->second][step.method] = std::move(output.as_object());
    outputs.millis[step.method].push_back(step.millis);
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<db::ItemRecord> items, data.db->ListItems(set));
  for (const db::ItemRecord& item : items) {
    auto file = file_of_url.find(item.url);
    if (item.status != db::ItemStatus::kOk && file != file_of_url.end())
      outputs.failed_items[file->second] = item.failure_cause;
  }
  return outputs;
}

}  // namespace

int RunEval(EvalConfig config) {
  Result<json::object> truth = ReadJsonObject(config.corpus / "truth.json", "the corpus's truth");
  if (!truth.ok()) {
    return Fail(kExitBadInput,
                absl::InvalidArgumentError(StrCat(
                    truth.status().message(), " — make a corpus with bench/quality/make_corpus.py ",
                    config.corpus.string())));
  }
  std::optional<json::object> floors;
  if (!config.floors.empty()) {
    Result<json::object> read = ReadJsonObject(config.floors, "floors");
    if (!read.ok()) return Fail(kExitBadInput, read.status());
    floors = std::move(*read);
  }
  std::vector<std::string> files = CorpusFiles(*truth);
  if (files.empty()) {
    return Fail(kExitBadInput, absl::InvalidArgumentError(
                                   StrCat(config.corpus.string(), "/truth.json names no files")));
  }
  std::filesystem::path corpus = std::filesystem::absolute(config.corpus).lexically_normal();
  std::map<std::string, std::string> file_of_url;
  std::vector<std::string> urls;
  for (const std::string& file : files) {
    std::string path = (corpus / file).string();
    if (!std::filesystem::is_regular_file(path)) {
      return Fail(kExitBadInput,
                  absl::NotFoundError(StrCat(path, " is in truth.json but not on disk")));
    }
    file_of_url[path] = file;
    urls.push_back(std::move(path));
  }

  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<std::unique_ptr<app::MethodStack>> stack = app::BuildMethods(nullptr, {});
  if (!stack.ok()) return Fail(kExitBadInput, stack.status());
  Result<pipeline::PipelineDef> definition = app::PipelineFor(config.pipeline, (*stack)->registry);
  if (!definition.ok()) return Fail(kExitBadInput, definition.status());
  std::filesystem::path data_path = corpus / "eval-data";
  std::error_code removed;
  std::filesystem::remove_all(data_path, removed);
  if (removed) {
    return Fail(kExitFatal, absl::InternalError(StrCat("cannot clear ", data_path.string(), ": ",
                                                       removed.message())));
  }
  Result<app::DataDir> data = app::DataDir::Open(data_path, **process);
  if (!data.ok()) return Fail(kExitFatal, data.status());
  if (Status opened = data->OpenIndexes(); !opened.ok()) return Fail(kExitFatal, opened);
  pipeline::SetRunOptions options{.concurrency = 8, .per_host = 8};
  options.fetch.allow_files = true;
  const std::string set = "eval", pipeline_name = definition->name;
  std::fprintf(stderr, "sluice eval: %zu files of %s, pipeline %s\n", urls.size(), corpus.c_str(),
               pipeline_name.c_str());
  ConsoleObserver console(config.progress, "sluice eval: analysing");
  Result<pipeline::SetReport> report =
      RunWithConsole(**process, app::SetPartsOf(**process, *data, **stack), std::move(options),
                     console, set, std::move(urls), std::move(*definition));
  if (!report.ok()) return Fail(kExitFatal, report.status());
  if (report->interrupted()) return kExitInterrupted;

  Result<quality::CorpusOutputs> outputs =
      OutputsOf(*data, set, file_of_url, report->analysis.set_results);
  if (!outputs.ok()) return Fail(kExitFatal, outputs.status());
  Result<json::object> scores = quality::ScoreCorpus(*truth, *outputs);
  if (!scores.ok()) return Fail(kExitBadInput, scores.status());
  for (const auto& [file, cause] : outputs->failed_items)
    std::fprintf(stderr, "sluice eval: %s failed: %s\n", file.c_str(), cause.c_str());

  if (config.json == "-") {
    std::cout << JsonText(*scores) << "\n";
  } else {
    std::printf("scores of pipeline %s (truth: %s/truth.json):\n%s", pipeline_name.c_str(),
                corpus.c_str(), quality::ScoreTable(*scores).c_str());
    if (!config.json.empty()) {
      if (Status written = WriteFileAtomically(config.json.string(), JsonText(*scores) + "\n");
          !written.ok())
        return Fail(kExitFatal, written);
      std::fprintf(stderr, "sluice eval: scores written to %s\n", config.json.c_str());
    }
  }
  if (!floors) return kExitOk;
  std::vector<std::string> violations = quality::FloorViolations(*scores, *floors);
  for (const std::string& violation : violations)
    std::fprintf(stderr, "sluice eval: %s (%s)\n", violation.c_str(), config.floors.c_str());
  if (!violations.empty()) return kExitBelowFloor;
  std::fprintf(stderr, "sluice eval: every score holds its floor in %s\n", config.floors.c_str());
  return kExitOk;
}

}  // namespace sluice::cli
