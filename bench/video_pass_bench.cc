// video_pass_bench FILE [METHOD...]: the stream methods named (default video.shots and
// video.defects) over FILE in one decoding pass, as the pipeline runs them; prints one JSON line
// with the frames decoded, the passes run and the wall seconds. For bench/video_bench.sh, which
// times it as a whole process beside ffmpeg.
#include <chrono>
#include <cstdio>

#include "methods/builtin.h"
#include "methods/execute.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "runtime/runtime.h"
#include "storage/memory/memory_blob_store.h"

int main(int argc, char** argv) {
  using namespace sluice;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [METHOD...]\n", argv[0]);
    return 2;
  }
  runtime::Runtime rt;
  methods::Registry registry;
  if (Status registered = methods::RegisterBuiltinMethods(registry); !registered.ok()) {
    std::fprintf(stderr, "%s\n", registered.ToString().c_str());
    return 1;
  }
  storage::MemoryBlobStore store;
  Result<methods::ItemContext> item = methods::ContextForFile(argv[1]);
  if (!item.ok()) {
    std::fprintf(stderr, "%s\n", item.status().ToString().c_str());
    return 1;
  }
  methods::json::object results;
  item->results = &results;
  methods::ItemMedia media = registry.OpenMedia(*item, {});
  std::vector<methods::ItemStepCall> calls;
  std::vector<std::string> names;
  for (int i = 2; i < argc; ++i) names.emplace_back(argv[i]);
  if (names.empty()) names = {"video.shots", "video.defects"};
  for (const std::string& name : names) {
    const methods::MethodBase* method = registry.Find(name);
    if (!method) {
      std::fprintf(stderr, "no method %s\n", name.c_str());
      return 2;
    }
    calls.push_back({method, *methods::ResolveMethodParams(*method, {})});
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<methods::StepResult> steps = rt.Run(
      methods::ExecuteItemSteps(std::move(calls), *item, {.runtime = &rt, .artifacts = &store}));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t frames = 0;
  for (const methods::StepResult& step : steps) {
    if (!step.status.ok()) {
      std::fprintf(stderr, "%s: %s\n", step.method.c_str(), step.status.ToString().c_str());
      return 1;
    }
    if (step.method == "video.shots") frames = step.output.at("frames").to_number<int64_t>();
  }
  std::printf("{\"frames\": %lld, \"passes\": %d, \"seconds\": %.3f}\n",
              static_cast<long long>(frames), media.stream ? media.stream->runs() : 0, seconds);
  return 0;
}
