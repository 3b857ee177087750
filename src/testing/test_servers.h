// Test servers from npm (installed by scripts/test-servers.sh) started on loopback for the
// backends' conformance tests.
//
// S3rver: the s3rver test server (npm, installed by scripts/test-servers.sh) started on a free
// loopback port with one bucket, for the S3 store's conformance tests. Stopped on destruction.
// s3rver checks SigV4 signatures with its fixed credentials (S3RVER / S3RVER).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace sluice::testing {

// A Node.js test server from .test-servers/ on a free loopback port; stopped on destruction.
class NodeServer {
 public:
  // `script` relative to .test-servers/node_modules; `args(port, dir)` its arguments (dir: a
  // scratch directory of its own). FailedPrecondition naming scripts/test-servers.sh when the
  // script is not installed; Unavailable when nothing listens within 15 s.
  static Result<std::unique_ptr<NodeServer>> Start(
      const std::string& script,
      const std::function<std::vector<std::string>(int, const std::filesystem::path&)>& args);
  ~NodeServer();
  int port() const { return port_; }

 private:
  NodeServer() = default;
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  int port_ = 0;
};

class S3rver {
 public:
  // FailedPrecondition naming scripts/test-servers.sh when s3rver is not installed;
  // Unavailable when it does not answer within 15 s.
  static Result<std::unique_ptr<S3rver>> Start(const std::string& bucket = "sluice-test");
  ~S3rver();

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& bucket() const { return bucket_; }
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecretKey = "S3RVER";

 private:
  S3rver() = default;
  std::unique_ptr<NodeServer> server_;
  int port_ = 0;
  std::string bucket_;
};

// sqslite: the SQS query protocol. Its queue URLs must name "localhost" (it only recognises
// those): http://localhost:PORT/queues/NAME.
class Sqslite {
 public:
  static Result<std::unique_ptr<Sqslite>> Start();
  std::string endpoint() const { return "http://localhost:" + std::to_string(server_->port()); }
  // Creates queue `name` (with curl: sluice itself never creates queues); returns its URL.
  Result<std::string> CreateQueue(const std::string& name);
  // Sends `body` to the queue at `queue_url` (with curl); returns the MessageId.
  Result<std::string> Send(const std::string& queue_url, const std::string& body);
  // The queue's ApproximateNumberOfMessages (sqslite counts every message not yet deleted).
  Result<int> Messages(const std::string& queue_url);

 private:
  // POSTs the form fields ("Name=value", URL-encoded by curl) to sqslite; its answer's body.
  Result<std::string> Call(const std::vector<std::string>& form);
  Sqslite() = default;
  std::unique_ptr<NodeServer> server_;
};

// A PostgreSQL server of Debian's packages (postgresql-15) in a scratch directory on a free
// loopback port, trust authentication, fsync off (tests, not durability). initdb refuses to run
// as root, so under root the server runs as the `postgres` user. Stopped (fast shutdown) on
// destruction; Restart() keeps the data, for reconnection tests.
class PostgresServer {
 public:
  // FailedPrecondition naming scripts/install-deps.sh when PostgreSQL is not installed;
  // Unavailable when it does not start within 30 s (its log is in the message).
  static Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();

  // A new empty database on this server; returns its postgres:// URI.
  Result<std::string> CreateDatabase(const std::string& name);
  std::string uri(const std::string& database = "postgres") const;
  int port() const { return port_; }
  Status Stop();
  Status StartAgain();

 private:
  PostgresServer() = default;
  Status RunTool(const std::string& tool, std::vector<std::string> args);
  TempDir dir_;
  std::filesystem::path bin_;
  std::filesystem::path data_;
  int port_ = 0;
  bool running_ = false;
};

// Creates database `name` on the server at `admin_uri` and returns the new database's URI.
Result<std::string> CreatePostgresDatabase(const std::string& admin_uri, const std::string& name);

// A new empty database for one test: on the server named by $SLUICE_TEST_POSTGRES (a URI
// scripts/test.sh exports after starting one server for the whole run), else on a private
// PostgresServer started once per process.
Result<std::string> FreshPostgresDatabase();

}  // namespace sluice::testing
