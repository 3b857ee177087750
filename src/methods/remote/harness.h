// CassetteHarness: runs methods — remote ones included — in GoogleTest tests with no network,
// from cassettes committed beside the test. Set SLUICE_RECORD_CASSETTES=1 to (re)record them
// from the providers the config names (SLUICE_CONFIG, or OPENAI_BASE_URL / OPENAI_API_KEY / AWS
// variables) instead; commit the directory afterwards.
//
//   CassetteHarness harness(SourceDir() / "testdata/cassettes");
//   Result<StepResult> step = harness.Try("llm.tags", SourceDir() / "testdata/shoe.png");
//
// Event-loop owner: one harness per test; Try drives its own runtime.
#pragma once

#include <filesystem>
#include <memory>

#include "methods/execute.h"
#include "methods/registry.h"
#include "methods/remote/cassette.h"
#include "methods/remote/config.h"
#include "storage/memory/memory_blob_store.h"

namespace sluice::methods::remote {

class CassetteHarness {
 public:
  // `config`: the providers; default, the process's config (SLUICE_CONFIG, else built-in).
  explicit CassetteHarness(std::filesystem::path cassettes,
                           std::optional<ProvidersConfig> config = std::nullopt);
  ~CassetteHarness();

  // The step result of `method` on `file` (prerequisites first, as `sluice try`); artifacts
  // (keyframes, clips) go to store(). Errors as MethodRunner::Run, plus the config's.
  Result<StepResult> Try(const std::string& method, const std::filesystem::path& file,
                         json::object params = {});
  bool recording() const { return recording_; }
  const Registry& registry() const { return registry_; }
  storage::MemoryBlobStore& store() { return store_; }

 private:
  runtime::Runtime runtime_;
  Status setup_;
  bool recording_ = false;
  ProvidersConfig config_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<Transport> network_;
  std::unique_ptr<Transport> cassette_;
  std::unique_ptr<Providers> providers_;
  Registry registry_;
  storage::MemoryBlobStore store_;
};

}  // namespace sluice::methods::remote
