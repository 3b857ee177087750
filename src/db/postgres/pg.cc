#include "db/postgres/pg.h"

#include <poll.h>

#include <charconv>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/strings.h"

namespace sluice::db::pg {
namespace {

constexpr std::string_view kUnavailableCause = "database_unavailable";

Status Unavailable(std::string_view message) {
  return Failure(absl::StatusCode::kUnavailable, kUnavailableCause, message);
}

std::string TrimmedMessage(const char* message) {
  return std::string(Trim(message ? message : ""));
}

// The statement's first words, for error messages.
std::string StatementHead(std::string_view sql) {
  std::string head(Trim(sql.substr(0, 60)));
  for (char& c : head)
    if (c == '\n') c = ' ';
  return head;
}

}  // namespace

Params& Params::Add(double number) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
  values_.emplace_back(std::string(buffer, ec == std::errc() ? end : buffer));
  return *this;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const std::optional<std::string>& value : values_)
    out.push_back(value ? value->c_str() : nullptr);
  return out;
}

std::string Rows::Text(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

int64_t Rows::Int(int row, int column) const {
  if (IsNull(row, column)) return 0;
  return std::strtoll(PQgetvalue(result_.get(), row, column), nullptr, 10);
}

double Rows::Double(int row, int column) const {
  if (IsNull(row, column)) return 0;
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

int64_t Rows::affected() const {
  const char* count = PQcmdTuples(result_.get());
  return count && *count ? std::strtoll(count, nullptr, 10) : 0;
}

void AppendCopyField(std::string& line, std::string_view value, bool first) {
  if (!first) line.push_back('\t');
  for (char c : value) {
    switch (c) {
      case '\\':
        line.append("\\\\");
        break;
      case '\t':
        line.append("\\t");
        break;
      case '\n':
        line.append("\\n");
        break;
      case '\r':
        line.append("\\r");
        break;
      default:
        line.push_back(c);
    }
  }
}

void AppendCopyNull(std::string& line) { line.append("\t\\N"); }

std::string TextArray(const std::vector<std::string>& values) {
  std::string array = "{";
  for (const std::string& value : values) {
    if (array.size() > 1) array.push_back(',');
    array.push_back('"');
    for (char c : value) {
      if (c == '"' || c == '\\') array.push_back('\\');
      array.push_back(c);
    }
    array.push_back('"');
  }
  array.push_back('}');
  return array;
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return Unavailable("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = TrimmedMessage(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable(StrCat("cannot connect to the database: ", why));
  }
  std::unique_ptr<Connection> connection(new Connection(conn));
  // Notices ("relation already exists, skipping") are not for the user's terminal.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return connection;
}

Connection::~Connection() { PQfinish(conn_); }

Status Connection::ErrorFrom(PGresult* result, std::string_view what) {
  std::string message = TrimmedMessage(result ? PQresultErrorMessage(result) : nullptr);
  if (message.empty()) message = TrimmedMessage(PQerrorMessage(conn_));
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  if (result) PQclear(result);
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.starts_with("08") ||
      sqlstate.starts_with("57P")) {
    return Unavailable(StrCat(what, ": the database connection was lost: ", message));
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return Failure(absl::StatusCode::kAborted, "database_conflict", StrCat(what, ": ", message));
  }
  if (sqlstate == "57014" || sqlstate == "55P03") {
    // statement_timeout or lock_timeout: the server was busy; the transaction is void.
    return Failure(absl::StatusCode::kAborted, "database_busy", StrCat(what, ": ", message));
  }
  return absl::InternalError(StrCat(what, ": ", message, sqlstate.empty() ? "" : " (SQLSTATE ",
                                    sqlstate, sqlstate.empty() ? "" : ")"));
}

Result<Rows> Connection::Exec(std::string_view sql, const Params& params, Plan plan) {
  if (plan_ != plan) {
    SLUICE_RETURN_IF_ERROR(ExecScript(plan == Plan::kGeneric
                                          ? "SET plan_cache_mode = force_generic_plan"
                                          : "RESET plan_cache_mode"));
    plan_ = plan;
  }
  std::string text(sql);
  auto it = prepared_.find(text);
  if (it == prepared_.end()) {
    std::string name = StrCat("sluice_", prepared_.size());
    PGresult* prepared = PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr);
    if (!prepared || PQresultStatus(prepared) != PGRES_COMMAND_OK)
      return ErrorFrom(prepared, StrCat("statement failed (", StatementHead(sql), ")"));
    PQclear(prepared);
    it = prepared_.emplace(std::move(text), std::move(name)).first;
  }
  std::vector<const char*> values = params.pointers();
  PGresult* result =
      PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0);
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorFrom(result, StrCat("statement failed (", StatementHead(sql), ")"));
  }
  return Rows(result);
}

Status Connection::ExecScript(std::string_view sql) {
  std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    return ErrorFrom(result, StrCat("statement failed (", StatementHead(sql), ")"));
  PQclear(result);
  return absl::OkStatus();
}

Status Connection::CopyIn(std::string_view copy_sql, std::string_view data) {
  std::string text(copy_sql);
  PGresult* start = PQexec(conn_, text.c_str());
  if (!start || PQresultStatus(start) != PGRES_COPY_IN) return ErrorFrom(start, "COPY failed");
  PQclear(start);
  // Large buffers in few calls: libpq copies each into its output buffer and flushes as needed.
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    size_t n = std::min(kChunk, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1)
      return ErrorFrom(nullptr, "COPY failed");
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return ErrorFrom(nullptr, "COPY failed");
  PGresult* end = PQgetResult(conn_);
  Status status = absl::OkStatus();
  if (!end || PQresultStatus(end) != PGRES_COMMAND_OK) {
    status = ErrorFrom(end, "COPY failed");
  } else {
    PQclear(end);
  }
  // Drain: libpq returns NULL once the command is complete.
  while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
  return status;
}

Status Connection::Transaction(const std::function<Status()>& body) {
  SLUICE_RETURN_IF_ERROR(ExecScript("BEGIN"));
  Status status = body();
  if (status.ok()) status = ExecScript("COMMIT");
  if (!status.ok()) {
    plan_.reset();
    if (healthy()) ExecScript("ROLLBACK").IgnoreError();
  }
  return status;
}

Result<bool> Connection::WaitForNotify(std::chrono::milliseconds timeout) {
  auto consume = [&]() -> Result<bool> {
    if (PQconsumeInput(conn_) != 1)
      return Unavailable(StrCat("lost the database connection while waiting for jobs: ",
                                TrimmedMessage(PQerrorMessage(conn_))));
    bool any = false;
    while (PGnotify* notify = PQnotifies(conn_)) {
      any = true;
      PQfreemem(notify);
    }
    return any;
  };
  SLUICE_ASSIGN_OR_RETURN(bool already, consume());
  if (already) return true;
  pollfd fd{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  if (fd.fd < 0) return Unavailable("the database connection has no socket");
  int ready = poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return false;
  return consume();
}

bool IsConnectionLoss(const Status& status) {
  return status.code() == absl::StatusCode::kUnavailable && CauseOf(status) == kUnavailableCause;
}

bool IsTransientConflict(const Status& status) {
  if (status.code() != absl::StatusCode::kAborted) return false;
  std::string cause = CauseOf(status);
  return cause == "database_conflict" || cause == "database_busy";
}

Pool::Pool(std::string conninfo, Options options)
    : conninfo_(std::move(conninfo)), options_(options) {}

Pool::~Pool() = default;

Result<std::unique_ptr<Connection>> Pool::Take() {
  std::unique_lock lock(mu_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < options_.max_connections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<Connection>> connection = Connection::Open(conninfo_);
  if (!connection.ok()) {
    lock.lock();
    --open_;
    available_.notify_one();
  }
  return connection;
}

void Pool::Give(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (connection && connection->healthy()) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
  available_.notify_one();
}

Status Pool::Run(const std::function<Status(Connection&)>& body) {
  auto deadline = std::chrono::steady_clock::now() + options_.reconnect_for;
  std::chrono::milliseconds backoff{50};
  thread_local std::minstd_rand jitter(std::random_device{}());
  int conflicts = 0;
  while (true) {
    Result<std::unique_ptr<Connection>> connection = Take();
    Status status = connection.status();
    if (connection.ok()) {
      status = body(**connection);
      if (IsConnectionLoss(status)) {
        // A statement can fail with a lost connection while libpq still reports the connection
        // as open (the server closed it between statements); never reuse that one.
        connection->reset();
      }
      Give(std::move(*connection));
    }
    // A serialisation failure, a deadlock or a statement timeout voided the whole transaction:
    // it runs again from the start, a few times, like a lost connection.
    bool conflict = IsTransientConflict(status) && ++conflicts < options_.conflict_attempts;
    if (!(IsConnectionLoss(status) || conflict) ||
        std::chrono::steady_clock::now() + backoff > deadline)
      return status;
    std::this_thread::sleep_for(backoff / 2 +
                                std::chrono::milliseconds(jitter() % (backoff.count() / 2 + 1)));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2'000));
  }
}

}  // namespace sluice::db::pg
