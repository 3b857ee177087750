#include "queue/intake/sqs_intake.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <cstdio>
#include <sstream>

#include "common/strings.h"
#include "queue/intake/url_list.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::intake {
namespace {

namespace asio = boost::asio;

Status BadMessage(std::string_view what) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_message", what);
}

}  // namespace

Result<db::JobSpec> JobSpecFromMessage(const std::string& body, std::string& manifest_uri) {
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(body, ec);
  if (ec || !parsed.is_object()) return BadMessage("the message body is not a JSON object");
  const boost::json::object& message = parsed.as_object();
  db::JobSpec spec;
  const boost::json::value* set = message.if_contains("set");
  if (!set || !set->is_string() || set->as_string().empty())
    return BadMessage("the message has no \"set\" string");
  spec.set = std::string(set->as_string());
  if (const boost::json::value* pipeline = message.if_contains("pipeline")) {
    if (!pipeline->is_string() || pipeline->as_string().empty() ||
        std::string_view(pipeline->as_string()).find(',') != std::string_view::npos)
      return BadMessage("\"pipeline\" must be a pipeline's name or file, without commas");
    spec.pipeline = std::string(pipeline->as_string());
  }
  const boost::json::value* urls = message.if_contains("urls");
  const boost::json::value* manifest = message.if_contains("manifest");
  if ((urls != nullptr) == (manifest != nullptr))
    return BadMessage("the message needs exactly one of \"urls\" and \"manifest\"");
  if (manifest) {
    if (!manifest->is_string()) return BadMessage("\"manifest\" must be a string");
    manifest_uri = std::string(manifest->as_string());
    return spec;
  }
  if (!urls->is_array() || urls->as_array().empty())
    return BadMessage("\"urls\" must be a non-empty array");
  for (const boost::json::value& url : urls->as_array()) {
    if (!url.is_string()) return BadMessage("every entry of \"urls\" must be a string");
    spec.urls.emplace_back(url.as_string());
  }
  return spec;
}

SqsIntake::SqsIntake(runtime::Runtime& runtime, SqsQueue& queue, db::JobStore& jobs,
                     ManifestReader read_manifest, SqsIntakeOptions options)
    : runtime_(runtime),
      queue_(queue),
      jobs_(jobs),
      read_manifest_(std::move(read_manifest)),
      options_(std::move(options)) {}

asio::awaitable<void> SqsIntake::KeepInvisible(const std::vector<SqsMessage>& messages,
                                               asio::steady_timer& renew, const bool& done) {
  while (!done) {
    renew.expires_after(std::chrono::seconds(std::max(1, options_.visibility_seconds / 2)));
    boost::system::error_code ec;
    co_await renew.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || done) co_return;
    for (const SqsMessage& message : messages) {
      Status extended =
          co_await queue_.ExtendVisibility(message.receipt_handle, options_.visibility_seconds);
      if (!extended.ok()) {
        std::fprintf(stderr, "sluice intake: could not extend message %s: %s\n", message.id.c_str(),
                     std::string(extended.message()).c_str());
      }
    }
  }
}

asio::awaitable<Result<int>> SqsIntake::PollOnce() {
  SLUICE_CO_ASSIGN_OR_RETURN(std::vector<SqsMessage> messages, co_await queue_.Receive());
  idle_ = messages.empty();
  counts_.received += static_cast<int64_t>(messages.size());
  if (messages.empty()) co_return 0;

  // Keep the batch invisible while its jobs are made (a slow database must not let SQS hand
  // the same messages to another worker meanwhile).
  asio::steady_timer renew(runtime_.loop_executor());
  bool done = false;
  runtime::TaskGroup side(runtime_.loop_executor());
  side.Spawn(KeepInvisible(messages, renew, done));

  std::vector<std::string> to_delete;
  for (const SqsMessage& message : messages) {
    std::string manifest;
    Result<db::JobSpec> spec = JobSpecFromMessage(message.body, manifest);
    if (spec.ok() && options_.validate_set) {
      Status valid = options_.validate_set(spec->set);
      if (!valid.ok()) spec = WithCause(valid, "bad_message");
    }
    if (spec.ok() && !manifest.empty()) {
      Result<std::string> bytes = co_await read_manifest_(manifest);
      if (!bytes.ok()) {
        spec = bytes.status();
      } else {
        std::istringstream in(*bytes);
        Result<UrlList> list = ReadUrlList(in);
        if (!list.ok()) {
          spec = list.status();
        } else {
          spec->urls = std::move(list->urls);
        }
      }
    }
    if (!spec.ok()) {
      ++counts_.rejected;
      std::fprintf(stderr,
                   "sluice intake: message %s (received %d time(s)) left for the queue's redrive "
                   "policy: %s\n",
                   message.id.c_str(), message.receive_count,
                   std::string(spec.status().message()).c_str());
      continue;
    }
    spec->dedupe_key = StrCat("sqs:", message.id);
    spec->max_attempts = options_.max_attempts;
    auto submit = [this, job = *spec] { return jobs_.Submit(job); };
    Result<db::Submitted> submitted = co_await runtime::RunOn(runtime_.blocking(), submit);
    if (!submitted.ok()) {
      // Not deleted: the message comes back after its visibility and is tried again.
      std::fprintf(stderr, "sluice intake: message %s: no job yet: %s\n", message.id.c_str(),
                   std::string(submitted.status().message()).c_str());
      continue;
    }
    ++(submitted->created ? counts_.jobs_created : counts_.duplicates);
    std::fprintf(stderr, "sluice intake: message %s -> job %lld (%s), set %s, %zu URLs%s\n",
                 message.id.c_str(), static_cast<long long>(submitted->job.id),
                 submitted->job.token.c_str(), submitted->job.set.c_str(),
                 submitted->job.urls.size(), submitted->created ? "" : " (already queued)");
    to_delete.push_back(message.receipt_handle);
  }
  done = true;
  renew.cancel();
  co_await side.Wait();
  for (size_t at = 0; at < to_delete.size(); at += 10) {
    std::vector<std::string> batch(
        to_delete.begin() + static_cast<std::ptrdiff_t>(at),
        to_delete.begin() + static_cast<std::ptrdiff_t>(std::min(at + 10, to_delete.size())));
    // A lone message goes by DeleteMessage: the same effect, and sqslite's DeleteMessageBatch
    // (2.1.1) keeps the named messages and drops the others (docs/design-notes.md).
    Status deleted;
    if (batch.size() == 1) {
      deleted = co_await queue_.Delete(std::move(batch.front()));
    } else {
      deleted = co_await queue_.DeleteBatch(std::move(batch));
    }
    if (!deleted.ok()) {
      ++counts_.delete_failures;
      std::fprintf(stderr, "sluice intake: %s (they come back and dedupe)\n",
                   std::string(deleted.message()).c_str());
    }
  }
  co_return static_cast<int>(messages.size());
}

asio::awaitable<void> SqsIntake::Run() {
  asio::steady_timer pause(runtime_.loop_executor());
  while (!stopping_) {
    auto started = std::chrono::steady_clock::now();
    Result<int> polled = co_await PollOnce();
    if (polled.ok() && *polled > 0) continue;
    if (!polled.ok()) {
      std::fprintf(stderr, "sluice intake: receive failed: %s\n",
                   std::string(polled.status().message()).c_str());
      pause.expires_after(std::chrono::seconds(2));
    } else {
      // An empty receive: SQS held it for the long-poll wait. One that came back sooner (a
      // short poll, or a queue server that does not long-poll) must not turn into a loop of
      // requests — each is billed: the next starts min_idle_interval after this one did.
      pause.expires_at(started + options_.min_idle_interval);
    }
    boost::system::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace sluice::intake
