// Intake: a source that turns outside requests (SQS messages, manifest shards) into jobs of the
// durable queue, run beside a worker's claim loop (DESIGN.md §2, intake).
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>

namespace sluice::intake {

struct IntakeCounts {
  int64_t received = 0;  // messages (or requests) taken in
  int64_t jobs_created = 0;
  int64_t duplicates = 0;  // redelivered ones whose job already existed
  int64_t rejected = 0;    // left at the source (e.g. for its redrive policy)
  int64_t delete_failures = 0;
};

class Intake {
 public:
  virtual ~Intake() = default;
  // Makes jobs until Stop(), riding out errors with backoff; returns once stopped.
  virtual boost::asio::awaitable<void> Run() = 0;
  // Ends Run() after its current poll; nothing taken in is lost (it is a job, or left at the
  // source to come back).
  virtual void Stop() = 0;
  // The last look at the source found nothing: a worker that exits when idle may exit.
  virtual bool idle() const = 0;
  virtual const IntakeCounts& counts() const = 0;
};

}  // namespace sluice::intake
