// FaultProxy: a TCP proxy on a loopback port in front of one dependency (Postgres, s3rver,
// sqslite, the fake model server, a media origin), whose faults the test switches while sluice
// talks through it:
//
//   kNone       bytes pass both ways untouched;
//   kLatency    every chunk waits `latency` before it is passed on;
//   kBandwidth  the server's bytes pass at `bytes_per_second`;
//   kStall      connections stay open but nothing passes either way;
//   kReset      a connection is reset (RST) once `reset_after` bytes came back from the server;
//   kHalfOpen   new connections are accepted and read, but never reach the server nor answer;
//               open ones go silent (the peer vanished without a FIN);
//   kRefuse     new connections are reset as soon as they are accepted; open ones are reset
//               (the server went away);
//   kCloseIdle  a connection an answer already came back on is closed (FIN) when the client
//               starts its next request on it: a server's keep-alive ending early, racing the
//               client's reuse (the request is lost, never answered, and none of it reaches
//               the server; a request already under way passes whole).
//
// A fault applies to connections open when it is set as well as to new ones (kReset counts
// each connection's bytes from its start). Setting kNone again releases stalled connections.
//
// Thread-safe: its own threads serve the connections; any thread may change the fault.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace sluice::testing {

enum class Fault { kNone, kLatency, kBandwidth, kStall, kReset, kHalfOpen, kRefuse, kCloseIdle };

// "none", "latency", "bandwidth", "stall", "reset", "half_open", "refuse", "close_idle".
const char* FaultName(Fault fault);

struct FaultSettings {
  Fault fault = Fault::kNone;
  std::chrono::milliseconds latency{200};
  int64_t bytes_per_second = 64 * 1024;
  int64_t reset_after = 1024;
};

class FaultProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and forwards to `target_host`:`target_port`.
  // Unavailable when it cannot listen.
  static Result<std::unique_ptr<FaultProxy>> Start(std::string target_host, int target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void Set(FaultSettings settings);
  void Set(Fault fault) { Set(FaultSettings{.fault = fault}); }
  FaultSettings settings() const;
  // Connections accepted so far, those reset on purpose, and those the fault touched (a chunk
  // delayed or throttled, a connection held, reset, refused or left half-open).
  int64_t connections() const { return connections_.load(); }
  int64_t resets() const { return resets_.load(); }
  int64_t affected() const { return affected_.load(); }

 private:
  FaultProxy() = default;
  void AcceptLoop();
  void Serve(int client);
  // How a connection ends early: not at all, reset (RST) or closed (FIN).
  enum Ending : int { kRunning = 0, kResetEnd = 1, kCloseEnd = 2 };
  // What both directions of one proxied connection share.
  struct Connection {
    std::atomic<int64_t> server_bytes{0};
    std::atomic<int> ending{kRunning};
    std::atomic<bool> touched{false};
    // The last bytes passed came from the server: an answer ended (for HTTP/1.1 without
    // pipelining), so the client's next bytes start a new request.
    std::atomic<bool> answered{false};
  };
  // Copies `from` → `to` until `from` closes, the connection ends early or the proxy stops,
  // applying the fault.
  void Pump(int from, int to, bool from_server, Connection& connection);

  std::string target_host_;
  int target_port_ = 0;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  FaultSettings settings_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> resets_{0};
  std::atomic<int64_t> affected_{0};
};

}  // namespace sluice::testing
