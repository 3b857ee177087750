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
  // Serve without API keys: only on a loopback address.
  bool no_auth = false;
};
// Serves until SIGINT/SIGTERM: 130 then (running jobs go back to the queue), 2 for bad
// arguments, 1 when the data directory or the address cannot be used.
int Serve(ServeConfig config);

struct KeysConfig {
  DataConfig where;
  std::string action;  // "create", "list", "revoke"
  std::string name;
  double requests_per_minute = 0;  // create: 0 for no limit
  bool json = false;
};
// `sluice keys create --name N [--rate R]` prints a new key (shown once); `list`; `revoke NAME`.
// 2 for a name taken (create) or unknown (revoke).
int KeysCommand(KeysConfig config);

}  // namespace sluice::cli
