// `sluice serve`: the HTTP API on the runtime's loop, with optional in-process workers so that one
// command is a whole embedded service. Exit codes as in set_commands.h.
#pragma once

#include <string>

#include "cli/queue_commands.h"

namespace sluice::cli {

struct ServeConfig {
  // The queue, data directory and how the in-process workers run (worker.jobs is unused: each
  // worker runs one job at a time).
  WorkerConfig worker;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  int workers = 0;                        // in-process workers (0: API only)
  // Serve without API keys. Required (and only allowed on a loopback address) until keys exist.
  bool no_auth = false;
};
// Serves until SIGINT/SIGTERM: 130 then (running jobs go back to the queue), 2 for bad
// arguments, 1 when the data directory or the address cannot be used.
int Serve(ServeConfig config);

}  // namespace sluice::cli
