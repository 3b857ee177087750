// The real-time path (POST /v1/analyze): one picture or video analysed now, into the same
// catalog, store and indexes as a set run, through the set runner (SetRunOptions::
// only_these_urls): the item's steps only, and a commit of its results alone, so a request
// costs the same in a set of ten items as in one of a million.
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "db/catalog.h"
#include "http/fetcher.h"
#include "pipeline/definition.h"
#include "pipeline/set_runner.h"

namespace sluice::pipeline {

struct AnalyzeNowRequest {
  std::string set = "realtime";
  // One of the two: a URL, fetched through the fetch guard like any set's; or the bytes
  // themselves, recorded under UploadUrl(their SHA-256).
  std::string url;
  std::string upload;
  PipelineDef pipeline;
  http::FetchOptions fetch;
};

struct AnalyzeNowAnswer {
  db::ItemRecord item;             // as recorded: ok, or failed with its cause
  std::vector<db::StepRow> steps;  // the item's results, by method
  SetReport report;
};

// Records the upload (or fetches the URL) into the set, analyses that item with the pipeline's
// item steps and commits its results. OK with the item as recorded: a failed fetch or a failed
// step is in the answer, not an error. InvalidArgument for a bad set name, neither or both of
// url and upload, or an upload that is not an image, video or audio (cause
// "unsupported_content"); the runner's errors otherwise (store, catalog).
boost::asio::awaitable<Result<AnalyzeNowAnswer>> AnalyzeNow(SetParts parts,
                                                            AnalyzeNowRequest request);

// The URL an uploaded content is recorded under: "upload:<sha256>".
std::string UploadUrl(std::string_view sha256);

}  // namespace sluice::pipeline
