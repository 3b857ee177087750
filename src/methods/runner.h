// MethodRunner: runs one method alone on one file, outside any pipeline — for method authors
// (`sluice try METHOD FILE`) and tests (like MediaPipe's CalculatorRunner). Methods whose
// results it reads ("result:<m>" inputs) run first, with their default params.
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "methods/execute.h"
#include "methods/registry.h"

namespace sluice::methods {

class MethodRunner {
 public:
  // `artifacts` may be null when the methods run return none.
  MethodRunner(const Registry& registry, runtime::Runtime& runtime, storage::BlobStore* artifacts,
               MediaLimits limits = {});

  // The step result of `name` on `file`. Errors (not step failures): NotFound for an unknown
  // method or file, InvalidArgument for bad params or a set method.
  boost::asio::awaitable<Result<StepResult>> Run(std::string name, std::filesystem::path file,
                                                 json::object params = {});

  // Runs `names` on `file` in order, with default params, sharing one decoded image and one
  // decoding pass (a later method reads earlier results). One StepResult per name; a method's
  // failure is in its status. Errors as Run, for the file or any name.
  boost::asio::awaitable<Result<std::vector<StepResult>>> RunMany(std::vector<std::string> names,
                                                                  std::filesystem::path file);
  // The item of the last Run or RunMany: its sha256, type and size.
  const ItemContext& item() const { return item_; }
  // How many times the file's image was decoded across the runs of this runner's last Run().
  int image_decodes() const { return media_.image ? media_.image->decodes() : 0; }
  // How many decoding passes ran over the file's video or audio in the last Run().
  int stream_passes() const { return media_.stream ? media_.stream->runs() : 0; }

 private:
  // Makes `file` the item of the next steps (its context, media and no results yet).
  Status Open(const std::filesystem::path& file);
  boost::asio::awaitable<Result<StepResult>> RunWithPrerequisites(const MethodBase& method,
                                                                  json::object params, int depth);

  const Registry& registry_;
  runtime::Runtime& runtime_;
  storage::BlobStore* artifacts_;
  MediaLimits limits_;
  ItemContext item_;
  json::object results_;
  std::map<std::string, StepResult> steps_;  // prerequisites run, for their artifacts
  ItemMedia media_;
};

// An ItemContext for a local file: its sha256, its sniffed type and size. NotFound when absent.
Result<ItemContext> ContextForFile(const std::filesystem::path& file);

}  // namespace sluice::methods
