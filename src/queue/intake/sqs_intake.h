// SqsIntake: turns SQS messages into jobs of the durable queue (DESIGN.md §7, intake).
//
// A message body is {"set": "NAME", "urls": ["…", …]} or {"set": "NAME", "manifest": "URI"}
// (a URL list — text, CSV or JSONL — read through `read_manifest`). Each becomes one job keyed
// by the message's MessageId, so a message delivered twice creates one job. While its job is
// being created the message's visibility is extended; once the job row is committed the
// message is deleted (in batches, each entry checked: a message SQS kept is redelivered and
// dedupes). A message that cannot become a job (not JSON, no set, a bad set name, a missing
// manifest) is left alone: it becomes visible again and the queue's redrive policy moves it to
// its dead-letter queue after maxReceiveCount receives.
//
// Event-loop only; job rows are written on the blocking pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "db/jobs.h"
#include "queue/intake/intake.h"
#include "queue/intake/sqs.h"
#include "runtime/runtime.h"

namespace sluice::intake {

// Reads a manifest named by a message: its bytes, NotFound when there is none.
using ManifestReader = std::function<boost::asio::awaitable<Result<std::string>>(std::string uri)>;

struct SqsIntakeOptions {
  // Seconds a received message stays invisible; renewed at half of it while its job is made.
  int visibility_seconds = 60;
  int max_attempts = 3;  // for the jobs created
  // Receives that bring nothing start at least this far apart (long polls take their wait
  // anyway; this bounds short polls and servers that answer at once). Default 1 s.
  std::chrono::milliseconds min_idle_interval{1000};
  // Set names become keys and file names; the same rule as `sluice submit`.
  std::function<Status(std::string_view)> validate_set;
};

// The job a message asks for: {"set", "urls": [...]} or {"set", "manifest": "s3://…"}, and
// optionally "pipeline" (default "default"). InvalidArgument (cause "bad_message") naming what
// is wrong.
Result<db::JobSpec> JobSpecFromMessage(const std::string& body, std::string& manifest_uri);

class SqsIntake : public Intake {
 public:
  SqsIntake(runtime::Runtime& runtime, SqsQueue& queue, db::JobStore& jobs,
            ManifestReader read_manifest, SqsIntakeOptions options);

  // One receive (long poll) and its messages turned into jobs. Returns how many messages came.
  boost::asio::awaitable<Result<int>> PollOnce();
  // PollOnce until Stop(), backing off after errors.
  boost::asio::awaitable<void> Run() override;
  void Stop() override { stopping_ = true; }
  // The last receive brought nothing (the queue looked empty).
  bool idle() const override { return idle_; }
  const IntakeCounts& counts() const override { return counts_; }

 private:
  // Extends the visibility of `messages` every half visibility period until `done`.
  boost::asio::awaitable<void> KeepInvisible(const std::vector<SqsMessage>& messages,
                                             boost::asio::steady_timer& renew, const bool& done);

  runtime::Runtime& runtime_;
  SqsQueue& queue_;
  db::JobStore& jobs_;
  ManifestReader read_manifest_;
  SqsIntakeOptions options_;
  IntakeCounts counts_;
  bool stopping_ = false;
  bool idle_ = false;
};

}  // namespace sluice::intake
