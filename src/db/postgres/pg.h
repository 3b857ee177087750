// A thin, blocking layer over libpq: connections, parameterised statements, COPY and a pool
// that reconnects. Run every call on the blocking pool, never on the event loop.
//
// Errors: a lost or refused connection (SQLSTATE class 08, 57P0x, or libpq's own connection
// errors) is Unavailable with cause "database_unavailable"; serialisation failures and deadlocks
// (40001, 40P01) are Aborted with cause "database_conflict", statement and lock timeouts (57014,
// 55P03) Aborted with cause "database_busy"; everything else is Internal with the server's
// message and SQLSTATE.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace sluice::db::pg {

// Statement parameters, all sent as text (the server casts them to the column types).
class Params {
 public:
  Params& Add(std::string_view text) {
    values_.emplace_back(text);
    return *this;
  }
  Params& Add(int64_t number) {
    values_.emplace_back(std::to_string(number));
    return *this;
  }
  Params& Add(double number);
  // NULL for an empty string: optional text columns store NULL, not "".
  Params& AddOrNull(std::string_view text) {
    if (text.empty()) {
      values_.emplace_back(std::nullopt);
    } else {
      values_.emplace_back(text);
    }
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const;

 private:
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement; empty for a statement that returns none.
class Rows {
 public:
  explicit Rows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool empty() const { return size() == 0; }
  std::string Text(int row, int column) const;  // "" for NULL
  int64_t Int(int row, int column) const;       // 0 for NULL
  double Double(int row, int column) const;
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> result_;
};

// Appends `value` as one field of COPY's text format (tab-separated, \N for NULL), escaping
// backslashes, tabs, newlines and carriage returns. `first` suppresses the leading tab.
void AppendCopyField(std::string& line, std::string_view value, bool first = false);
void AppendCopyNull(std::string& line);

// `values` as a text[] literal ({"a","b"}), each element quoted: a parameter for `= ANY($n)`.
std::string TextArray(const std::vector<std::string>& values);

// How the server plans a prepared statement. kServerChooses: custom plans for the parameters
// until a generic plan looks as cheap (Postgres's default). kGeneric: planned once per
// connection; for small hot statements whose planning costs more than running them.
enum class Plan { kServerChooses, kGeneric };

class Connection {
 public:
  // Connects with a libpq URI or key=value string. Unavailable when the server cannot be reached
  // or refuses the connection (the message says why, credentials never included).
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo);
  ~Connection();

  // Runs one statement with parameters ($1, $2, ...). Prepared on its first use on this
  // connection and reused after (planning is most of a small statement's server time).
  // `plan` switches the session's plan_cache_mode when it differs from the last statement's (a
  // round trip of its own).
  Result<Rows> Exec(std::string_view sql, const Params& params = {},
                    Plan plan = Plan::kServerChooses);
  // Runs one or more statements without parameters (schema, BEGIN/COMMIT).
  Status ExecScript(std::string_view sql);
  // COPY ... FROM STDIN with `data` (COPY text format lines, each ending in '\n').
  Status CopyIn(std::string_view copy_sql, std::string_view data);
  // Runs `body` inside BEGIN ... COMMIT; rolls back when it fails.
  Status Transaction(const std::function<Status()>& body);

  // False once the connection is lost: the pool drops it instead of reusing it.
  bool healthy() const { return PQstatus(conn_) == CONNECTION_OK; }
  // Waits up to `timeout` for a NOTIFY on a channel this connection LISTENs to. True when one
  // arrived (all pending ones are consumed); false on timeout. Unavailable when the connection
  // is lost.
  Result<bool> WaitForNotify(std::chrono::milliseconds timeout);
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Status ErrorFrom(PGresult* result, std::string_view what);
  PGconn* conn_;
  // The session's plan_cache_mode as last set; unknown after a rolled-back transaction (which
  // undoes a SET made inside it).
  std::optional<Plan> plan_ = Plan::kServerChooses;
  // Statement text -> prepared statement name on this connection.
  std::unordered_map<std::string, std::string> prepared_;
};

// A bounded pool of connections to one database. Calls that find the database unreachable
// retry with backoff until `reconnect_for` has passed (a server restart is ridden out), then
// return Unavailable.
class Pool {
 public:
  struct Options {
    int max_connections = 8;
    std::chrono::milliseconds reconnect_for{30'000};
    // Runs of a body that ends in a conflict or a timeout (database_conflict, database_busy),
    // the first included, before its error is returned.
    int conflict_attempts = 5;
  };
  Pool(std::string conninfo, Options options);
  ~Pool();

  // Runs `body` on a connection of the pool. The body must be safe to run again from the start
  // when it fails with a lost connection, a conflict or a timeout (a whole transaction is; half
  // of one is not): it is, with backoff, until `reconnect_for` has passed or, for conflicts,
  // `conflict_attempts` runs.
  Status Run(const std::function<Status(Connection&)>& body);
  template <class T>
  Result<T> Get(const std::function<Result<T>(Connection&)>& body) {
    std::optional<Result<T>> out;
    Status status = Run([&](Connection& c) -> Status {
      out.emplace(body(c));
      return out->status();
    });
    if (!status.ok()) return status;
    return std::move(*out);
  }
  const std::string& conninfo() const { return conninfo_; }

 private:
  Result<std::unique_ptr<Connection>> Take();
  void Give(std::unique_ptr<Connection> connection);

  std::string conninfo_;
  Options options_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

// True for failures that mean the connection (not the statement) failed.
bool IsConnectionLoss(const Status& status);
// True for a serialisation failure, deadlock, statement or lock timeout: the transaction was
// void and may run again.
bool IsTransientConflict(const Status& status);

}  // namespace sluice::db::pg
