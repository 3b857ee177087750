#include "methods/runner.h"

#include <fstream>

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice::methods {

namespace asio = boost::asio;

Result<ItemContext> ContextForFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot read ", file.string()));
  Sha256 hash;
  std::string head, buffer(1 << 16, '\0');
  int64_t size = 0;
  while (in.read(buffer.data(), buffer.size()) || in.gcount() > 0) {
    std::string_view chunk(buffer.data(), static_cast<size_t>(in.gcount()));
    if (head.size() < kSniffBytes) head.append(chunk.substr(0, kSniffBytes - head.size()));
    hash.Update(chunk);
    size += static_cast<int64_t>(chunk.size());
  }
  SniffedType type = SniffContentType(head);
  ItemContext item;
  item.sha256 = hash.FinishHex();
  item.mime = type.mime;
  item.kind = type.kind;
  item.size = size;
  item.file = std::filesystem::absolute(file);
  return item;
}

MethodRunner::MethodRunner(const Registry& registry, runtime::Runtime& runtime,
                           storage::BlobStore* artifacts, MediaLimits limits)
    : registry_(registry), runtime_(runtime), artifacts_(artifacts), limits_(limits) {}

asio::awaitable<Result<StepResult>> MethodRunner::Run(std::string name, std::filesystem::path file,
                                                      json::object params) {
  SLUICE_CO_ASSIGN_OR_RETURN(const MethodBase* method, registry_.Get(name));
  if (IsSetMethod(method)) {
    co_return absl::InvalidArgumentError(
        StrCat(name, " is a set method; it runs over a set, not a file"));
  }
  SLUICE_CO_RETURN_IF_ERROR(Open(file));
  co_return co_await RunWithPrerequisites(*method, std::move(params), 0);
}

Status MethodRunner::Open(const std::filesystem::path& file) {
  SLUICE_ASSIGN_OR_RETURN(item_, ContextForFile(file));
  results_.clear();
  steps_.clear();
  media_ = registry_.OpenMedia(item_, limits_);
  item_.results = &results_;
  return absl::OkStatus();
}

asio::awaitable<Result<std::vector<StepResult>>> MethodRunner::RunMany(
    std::vector<std::string> names, std::filesystem::path file) {
  std::vector<const MethodBase*> methods;
  for (const std::string& name : names) {
    SLUICE_CO_ASSIGN_OR_RETURN(const MethodBase* method, registry_.Get(name));
    if (IsSetMethod(method))
      co_return absl::InvalidArgumentError(StrCat(name, " is a set method, not an item method"));
    methods.push_back(method);
  }
  SLUICE_CO_RETURN_IF_ERROR(Open(file));
  std::vector<StepResult> out;
  for (const MethodBase* method : methods) {
    const std::string& name = method->spec().name;
    if (auto done = steps_.find(name); done != steps_.end()) {  // ran as a prerequisite
      out.push_back(done->second);
      continue;
    }
    SLUICE_CO_ASSIGN_OR_RETURN(StepResult step, co_await RunWithPrerequisites(*method, {}, 0));
    if (step.status.ok()) results_[name] = step.output;
    steps_[name] = step;
    out.push_back(std::move(step));
  }
  co_return out;
}

asio::awaitable<Result<StepResult>> MethodRunner::RunWithPrerequisites(const MethodBase& method,
                                                                       json::object params,
                                                                       int depth) {
  const MethodSpec& spec = method.spec();
  if (depth > 8)
    co_return absl::FailedPreconditionError(
        StrCat("inputs of ", spec.name, " nest too deep (a cycle?)"));
  for (const std::string& input : spec.inputs) {
    std::optional<ResultInput> needed = ParseResultInput(input);
    if (!needed || results_.contains(needed->method)) continue;
    SLUICE_CO_ASSIGN_OR_RETURN(const MethodBase* prerequisite, registry_.Get(needed->method));
    if (needed->optional && !Accepts(prerequisite->spec(), item_.kind)) continue;
    SLUICE_CO_ASSIGN_OR_RETURN(StepResult before,
                               co_await RunWithPrerequisites(*prerequisite, {}, depth + 1));
    if (!before.status.ok()) {
      if (needed->optional) continue;  // runs without it
      co_return before;                // the prerequisite's failure explains this one
    }
    results_[needed->method] = before.output;
    steps_[std::string(needed->method)] = std::move(before);
  }
  SLUICE_CO_ASSIGN_OR_RETURN(json::object resolved, ResolveMethodParams(method, params));
  co_return co_await ExecuteItemStep(
      method, item_, std::move(resolved),
      {.runtime = &runtime_, .artifacts = artifacts_, .earlier_steps = &steps_});
}

}  // namespace sluice::methods
