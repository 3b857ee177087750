// Cassettes: a provider's exchanges saved to a directory (`sluice try ... --record DIR`) and
// served back with no network (`--replay DIR`, and tests in CI), so remote methods are
// developed and tested offline.
//
// One JSON file per distinct request, named by its key: sha256 of method, path (no scheme or
// host: a server on another port is the same server) and body. Signatures, dates and keys are
// not part of the key and not saved. A file holds the exchanges in the order they happened
// (a 429, then the answer); replay serves them in that order and repeats the last.
//
// Event-loop only. Recording writes small files synchronously: a developer tool, not a path
// production runs take.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "methods/remote/provider.h"

namespace sluice::methods::remote {

std::string CassetteKey(const http::ClientRequest& request);

class RecordingTransport : public Transport {
 public:
  // `dir` is created when missing.
  RecordingTransport(Transport& inner, std::filesystem::path dir);
  // The inner transport's answer; also saved. A failure to save is logged to stderr, the answer
  // still returned.
  asio::awaitable<Result<http::ClientResponse>> Exchange(
      const http::ClientRequest& request) override;
  int64_t recorded() const { return recorded_; }

 private:
  Transport& inner_;
  std::filesystem::path dir_;
  std::map<std::string, json::object> cassettes_;
  int64_t recorded_ = 0;
};

class ReplayTransport : public Transport {
 public:
  explicit ReplayTransport(std::filesystem::path dir);
  // The recorded answer. FailedPrecondition "not_recorded" (naming the request and the
  // directory) when the request was never recorded; DataLoss "bad_cassette" for a damaged file.
  asio::awaitable<Result<http::ClientResponse>> Exchange(
      const http::ClientRequest& request) override;
  int64_t replayed() const { return replayed_; }

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::pair<json::array, size_t>> served_;  // key → exchanges, next
  int64_t replayed_ = 0;
};

}  // namespace sluice::methods::remote
