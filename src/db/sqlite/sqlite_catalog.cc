#include "db/sqlite/sqlite_catalog.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <tuple>
#include <unordered_set>

#include "common/strings.h"
#include "db/sqlite/statement.h"

namespace sluice::db {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sets(
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  items INTEGER NOT NULL DEFAULT 0,
  ok INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS items(
  set_name TEXT NOT NULL REFERENCES sets(name),
  url TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
  final_url TEXT,
  sha256 TEXT,
  size INTEGER,
  mime TEXT,
  kind TEXT,
  store_key TEXT,
  failure_cause TEXT,
  failure_details TEXT,
  requests INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (set_name, url)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_sha256 ON items(sha256);
CREATE TABLE IF NOT EXISTS steps(
  set_name TEXT NOT NULL REFERENCES sets(name),
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  version INTEGER NOT NULL,
  step_key TEXT NOT NULL,
  ok INTEGER NOT NULL,
  output TEXT,
  artifacts TEXT,
  failure_cause TEXT,
  failure_details TEXT,
  millis REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (set_name, url, method)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS step_cache(
  step_key TEXT PRIMARY KEY,
  item_sha256 TEXT NOT NULL,
  method TEXT NOT NULL,
  version INTEGER NOT NULL,
  output TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS step_cache_by_item ON step_cache(item_sha256);
)sql";

// Schema changes after kSchema (version 2), in order, each in its own transaction and stamped
// in user_version. Never edit one that has shipped: add the next.
struct Migration {
  int version;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {3, "ALTER TABLE sets ADD COLUMN commits INTEGER NOT NULL DEFAULT 0;"},
    {4, R"sql(
CREATE TABLE jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT NOT NULL UNIQUE,
  set_name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
  priority INTEGER NOT NULL DEFAULT 0,
  fair_rank INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  epoch INTEGER NOT NULL DEFAULT 0,
  worker TEXT,
  urls TEXT NOT NULL,
  dedupe_key TEXT UNIQUE,
  run_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  lease_until INTEGER,
  heartbeat_at INTEGER,
  failure_cause TEXT,
  failure_details TEXT);
CREATE INDEX jobs_ready ON jobs(state, priority DESC, fair_rank, id);
CREATE INDEX jobs_by_set ON jobs(set_name, state, fair_rank);
CREATE INDEX jobs_leases ON jobs(state, lease_until);
)sql"},
    {5, R"sql(
CREATE TABLE checkpoints(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  set_name TEXT NOT NULL,
  entry TEXT NOT NULL);
CREATE INDEX checkpoints_by_set ON checkpoints(set_name, seq);
)sql"},
    {6, R"sql(
ALTER TABLE jobs ADD COLUMN pipeline TEXT NOT NULL DEFAULT 'default';
)sql"},
    {7, R"sql(
CREATE TABLE embeddings(
  item_sha256 TEXT NOT NULL,
  method TEXT NOT NULL,
  model TEXT NOT NULL,
  item_id INTEGER NOT NULL,
  dimensions INTEGER NOT NULL,
  vector BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (method, model, item_sha256));
CREATE INDEX embeddings_by_id ON embeddings(item_id);
CREATE INDEX embeddings_by_item ON embeddings(item_sha256);
CREATE INDEX items_by_content ON items(sha256);
)sql"},
    {8, R"sql(
CREATE TABLE content_hashes(
  item_sha256 TEXT NOT NULL,
  method TEXT NOT NULL,
  item_id INTEGER NOT NULL,
  hash INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (method, item_sha256));
CREATE INDEX content_hashes_by_id ON content_hashes(item_id);
)sql"},
    {9, R"sql(
CREATE TABLE api_keys(
  name TEXT PRIMARY KEY,
  prefix TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  requests_per_minute REAL NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0);
)sql"},
    // The step cache is read by content only: keyed by (content, step key), an item's steps
    // share a leaf page and the commit writes one page an item instead of two (the step key's
    // B-tree and the content index) a step. 10 no-op steps an item: 23.0 -> 17.0 µs a step.
    {10, R"sql(
CREATE TABLE step_cache_by_content(
  step_key TEXT NOT NULL,
  item_sha256 TEXT NOT NULL,
  method TEXT NOT NULL,
  version INTEGER NOT NULL,
  output TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (item_sha256, step_key)) WITHOUT ROWID;
INSERT INTO step_cache_by_content
  SELECT step_key, item_sha256, method, version, output, artifacts, created_at FROM step_cache;
DROP TABLE step_cache;
ALTER TABLE step_cache_by_content RENAME TO step_cache;
)sql"},
};
constexpr int kBaseVersion = 2;

}  // namespace

Result<std::unique_ptr<SqliteCatalog>> SqliteCatalog::Open(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Failure(absl::StatusCode::kFailedPrecondition, "data_dir_unwritable",
                   StrCat("cannot open the database ", path.string(), ": ", why));
  }
  std::unique_ptr<SqliteCatalog> catalog(new SqliteCatalog(db));
  sqlite3_busy_timeout(db, 10'000);
  // Switching a new file to WAL needs it to itself for a moment; processes opening it together
  // can find it busy even past the busy timeout's first wait. A few retries settle it.
  Status setup;
  for (int attempt = 0; attempt < 20; ++attempt) {
    // SQLite's default 2 MB page cache stays: 32 MB saved the commit ~2 µs a step (it spills
    // pages to the WAL mid-transaction) but raised a 12,000-item remote run's peak RSS by 20 MB.
    setup =
        catalog->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (setup.ok()) setup = catalog->Migrate();
    int code = sqlite3_errcode(db) & 0xff;
    if (setup.ok() || (code != SQLITE_BUSY && code != SQLITE_LOCKED)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!setup.ok()) {
    bool not_ours = sqlite3_errcode(db) == SQLITE_NOTADB;
    return Failure(not_ours ? absl::StatusCode::kDataLoss : absl::StatusCode::kFailedPrecondition,
                   not_ours ? "not_a_database" : "data_dir_unwritable",
                   StrCat("cannot use the database ", path.string(), ": ", setup.message()));
  }
  return catalog;
}

SqliteCatalog::~SqliteCatalog() {
  statements_.Clear();  // a connection with statements left does not close
  sqlite3_close(db_);
}

Status SqliteCatalog::InTransaction(const std::function<Status()>& body) {
  SLUICE_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Status status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) Exec("ROLLBACK").IgnoreError();
  return status;
}

Status SqliteCatalog::Migrate() {
  // One write transaction for the whole check-and-upgrade: two processes opening a new database
  // at once cannot both apply a migration (the second sees the first's version).
  return InTransaction([&]() -> Status {
    int64_t at = 0;
    {
      Statement version(statements_, "PRAGMA user_version");
      if (!version.ok() || sqlite3_step(version.get()) != SQLITE_ROW)
        return Error("reading the schema version");
      at = version.Int(0);
    }
    int newest = kMigrations[std::size(kMigrations) - 1].version;
    if (at > newest) {
      return Failure(absl::StatusCode::kFailedPrecondition, "schema_too_new",
                     StrCat("the database is at schema version ", at, " but this sluice knows ",
                            newest, "; upgrade sluice"));
    }
    if (at <= kBaseVersion) SLUICE_RETURN_IF_ERROR(Exec(kSchema));
    for (const Migration& migration : kMigrations) {
      if (migration.version > at) SLUICE_RETURN_IF_ERROR(Exec(migration.sql));
    }
    if (at < newest) SLUICE_RETURN_IF_ERROR(Exec(StrCat("PRAGMA user_version = ", newest).c_str()));
    return absl::OkStatus();
  });
}

namespace {

// A full disk is the operator's to fix and says so; anything else is an internal error.
Status SqliteFailure(sqlite3* db, std::string_view what, std::string_view message) {
  int code = sqlite3_extended_errcode(db) & 0xff;
  const char* file = sqlite3_db_filename(db, "main");
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
    return Failure(absl::StatusCode::kDataLoss, "database_damaged",
                   StrCat(what.empty() ? "" : StrCat(what, ": "), "the database ",
                          file && *file ? file : "", " is damaged (", message,
                          "): restore it from a backup, or move it aside to start afresh"));
  }
  if (code == SQLITE_FULL) {
    return Failure(absl::StatusCode::kResourceExhausted, "no_space",
                   StrCat(what.empty() ? "" : StrCat(what, ": "), "the disk holding ",
                          file && *file ? file : "the database",
                          " is full: free space and run again (what was recorded is kept)"));
  }
  return absl::InternalError(what.empty() ? std::string(message) : StrCat(what, ": ", message));
}

}  // namespace

Status SqliteCatalog::Error(std::string_view what) const {
  return SqliteFailure(db_, what, sqlite3_errmsg(db_));
}

Status SqliteCatalog::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return SqliteFailure(db_, "", text);
  }
  return absl::OkStatus();
}

Result<std::vector<std::string>> SqliteCatalog::CompletedUrls(std::string_view set) {
  std::lock_guard lock(mu_);
  Statement select(statements_, "SELECT url FROM items WHERE set_name = ?1 AND status = 'ok'");
  if (!select.ok()) return Error("preparing CompletedUrls");
  select.Bind(1, set);
  std::vector<std::string> urls;
  while (select.Next()) urls.push_back(select.Text(0));
  if (!select.finished()) return Error("reading rows");
  return urls;
}

Status SqliteCatalog::RecordItems(std::string_view set, const std::vector<ItemRecord>& items) {
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Status s) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  };
  int64_t now = NowMillis();
  {
    Statement upsert_set(
        statements_,
        "INSERT INTO sets(name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING");
    if (!upsert_set.ok()) return rollback(Error("preparing set insert"));
    upsert_set.Bind(1, set);
    upsert_set.Bind(2, now);
    if (sqlite3_step(upsert_set.get()) != SQLITE_DONE) return rollback(Error("recording set"));

    // An ok row is never replaced by a failure: a late retry of a finished item changes nothing.
    Statement upsert(statements_, R"sql(
      INSERT INTO items(set_name, url, status, final_url, sha256, size, mime, kind, store_key,
                        failure_cause, failure_details, requests, updated_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
      ON CONFLICT(set_name, url) DO UPDATE SET
        status = excluded.status, final_url = excluded.final_url, sha256 = excluded.sha256,
        size = excluded.size, mime = excluded.mime, kind = excluded.kind,
        store_key = excluded.store_key, failure_cause = excluded.failure_cause,
        failure_details = excluded.failure_details, requests = excluded.requests,
        updated_at = excluded.updated_at
      WHERE items.status <> 'ok' OR excluded.status = 'ok')sql");
    if (!upsert.ok()) return rollback(Error("preparing item upsert"));
    for (const ItemRecord& item : items) {
      sqlite3_reset(upsert.get());
      upsert.Bind(1, set);
      upsert.Bind(2, item.url);
      upsert.Bind(3, ItemStatusName(item.status));
      upsert.BindOrNull(4, item.final_url);
      upsert.BindOrNull(5, item.sha256);
      upsert.Bind(6, item.size);
      upsert.BindOrNull(7, item.mime);
      upsert.BindOrNull(8, item.kind);
      upsert.BindOrNull(9, item.store_key);
      upsert.BindOrNull(10, item.failure_cause);
      upsert.BindOrNull(11, item.failure_details);
      upsert.Bind(12, static_cast<int64_t>(item.requests));
      upsert.Bind(13, now);
      if (sqlite3_step(upsert.get()) != SQLITE_DONE)
        return rollback(Error("recording item " + item.url));
    }
  }
  Status committed = Exec("COMMIT");
  if (!committed.ok()) return rollback(committed);
  return absl::OkStatus();
}

Result<SetTotals> SqliteCatalog::FinishSet(std::string_view set) {
  std::lock_guard lock(mu_);
  return FinishSetLocked(set, /*count_commit=*/false);
}

Result<SetTotals> SqliteCatalog::FinishSetLocked(std::string_view set, bool count_commit) {
  Statement update(statements_, R"sql(
    UPDATE sets SET finished_at = ?2,
      items = (SELECT count(*) FROM items WHERE set_name = ?1),
      ok = (SELECT count(*) FROM items WHERE set_name = ?1 AND status = 'ok'),
      failed = (SELECT count(*) FROM items WHERE set_name = ?1 AND status = 'failed'),
      bytes = (SELECT coalesce(sum(size), 0) FROM items WHERE set_name = ?1 AND status = 'ok'),
      commits = commits + ?3
    WHERE name = ?1
    RETURNING items, ok, failed, bytes, commits)sql");
  if (!update.ok()) return Error("preparing FinishSet");
  update.Bind(1, set);
  update.Bind(2, NowMillis());
  update.Bind(3, int64_t{count_commit});
  int rc = sqlite3_step(update.get());
  if (rc == SQLITE_DONE) return absl::NotFoundError(StrCat("no set named '", set, "'"));
  if (rc != SQLITE_ROW) return Error("finishing set");
  SetTotals totals{std::string(set), update.Int(0), update.Int(1),
                   update.Int(2),    update.Int(3), update.Int(4)};
  return totals;
}

namespace {

constexpr const char* kItemColumns =
    "url, status, final_url, sha256, size, mime, kind, store_key, failure_cause, "
    "failure_details, requests";

// An item from kItemColumns, starting at column `first`.
ItemRecord ItemFromRow(Statement& row, int first) {
  ItemRecord item;
  item.url = row.Text(first);
  item.status = row.Text(first + 1) == "ok" ? ItemStatus::kOk : ItemStatus::kFailed;
  item.final_url = row.Text(first + 2);
  item.sha256 = row.Text(first + 3);
  item.size = row.Int(first + 4);
  item.mime = row.Text(first + 5);
  item.kind = row.Text(first + 6);
  item.store_key = row.Text(first + 7);
  item.failure_cause = row.Text(first + 8);
  item.failure_details = row.Text(first + 9);
  item.requests = static_cast<int>(row.Int(first + 10));
  return item;
}

// SELECT item_sha256, method, model, item_id, vector ... as rows.
std::vector<EmbeddingRow> EmbeddingRows(Statement& select) {
  std::vector<EmbeddingRow> out;
  while (select.Next()) {
    EmbeddingRow row{.item_sha256 = select.Text(0),
                     .item_id = select.Int(3),
                     .method = select.Text(1),
                     .model = select.Text(2)};
    const void* blob = sqlite3_column_blob(select.get(), 4);
    int bytes = sqlite3_column_bytes(select.get(), 4);
    row.vector.resize(static_cast<size_t>(bytes) / sizeof(float));
    if (blob && bytes > 0) std::memcpy(row.vector.data(), blob, row.vector.size() * sizeof(float));
    out.push_back(std::move(row));
  }
  return out;  // the caller checks select.finished()
}

}  // namespace

Result<std::vector<ItemRecord>> SqliteCatalog::ListItems(std::string_view set) {
  std::lock_guard lock(mu_);
  Statement select(
      statements_,
      StrCat("SELECT ", kItemColumns, " FROM items WHERE set_name = ?1 ORDER BY url").c_str());
  if (!select.ok()) return Error("preparing ListItems");
  select.Bind(1, set);
  std::vector<ItemRecord> items;
  while (select.Next()) items.push_back(ItemFromRow(select, 0));
  if (!select.finished()) return Error("reading rows");
  return items;
}

Result<std::vector<ItemRecord>> SqliteCatalog::ListItems(std::string_view set,
                                                         const std::vector<std::string>& urls) {
  std::vector<std::string> sorted = urls;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::lock_guard lock(mu_);
  Statement select(
      statements_,
      StrCat("SELECT ", kItemColumns, " FROM items WHERE set_name = ?1 AND url = ?2").c_str());
  if (!select.ok()) return Error("preparing ListItems");
  std::vector<ItemRecord> items;
  for (const std::string& url : sorted) {
    sqlite3_reset(select.get());
    select.Bind(1, set);
    select.Bind(2, url);
    while (select.Next()) items.push_back(ItemFromRow(select, 0));
    if (!select.finished()) return Error("reading rows");
  }
  return items;
}

Result<std::vector<ItemRecord>> SqliteCatalog::ListItemsPage(std::string_view set,
                                                             const ItemPageQuery& query) {
  std::string skipped;
  for (size_t i = 0; i < query.text_skips_methods.size(); ++i)
    StrAppend(skipped, i ? ", " : "", "?", i + 7);
  std::string sql = StrCat("SELECT ", kItemColumns, R"sql( FROM items i
    WHERE i.set_name = ?1 AND i.url > ?2 AND (?4 = '' OR i.status = ?4) AND (?5 = '' OR i.kind = ?5)
      AND (?6 = '' OR i.url LIKE ?6 ESCAPE '\' OR i.failure_cause LIKE ?6 ESCAPE '\'
           OR i.failure_details LIKE ?6 ESCAPE '\'
           OR EXISTS (SELECT 1 FROM steps s WHERE s.set_name = i.set_name AND s.url = i.url
                      AND s.method NOT IN ()sql",
                           skipped, R"sql()
                      AND (s.output LIKE ?6 ESCAPE '\' OR s.failure_details LIKE ?6 ESCAPE '\')))
    ORDER BY i.url LIMIT ?3)sql");
  std::lock_guard lock(mu_);
  Statement select(statements_, sql.c_str());
  if (!select.ok()) return Error("preparing ListItemsPage");
  select.Bind(1, set);
  select.Bind(2, query.after_url);
  select.Bind(3, int64_t{query.limit});
  select.Bind(4, query.status ? ItemStatusName(*query.status) : std::string_view(""));
  select.Bind(5, query.kind);
  select.Bind(6, query.text.empty() ? std::string() : ContainsPattern(query.text));
  for (size_t i = 0; i < query.text_skips_methods.size(); ++i)
    select.Bind(static_cast<int>(i) + 7, query.text_skips_methods[i]);
  std::vector<ItemRecord> items;
  while (select.Next()) items.push_back(ItemFromRow(select, 0));
  if (!select.finished()) return Error("reading rows");
  return items;
}

Result<Outcomes> SqliteCatalog::CountOutcomes(std::string_view set,
                                              const std::vector<std::string>& urls) {
  std::unordered_set<std::string_view> wanted(urls.begin(), urls.end());
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   "SELECT url, status = 'ok', failure_cause FROM items WHERE set_name = ?1");
  if (!select.ok()) return Error("preparing CountOutcomes");
  select.Bind(1, set);
  Outcomes out;
  sqlite3_stmt* row = select.get();
  while (select.Next()) {
    std::string_view url(reinterpret_cast<const char*>(sqlite3_column_text(row, 0)),
                         static_cast<size_t>(sqlite3_column_bytes(row, 0)));
    if (!wanted.contains(url)) continue;
    if (sqlite3_column_int(row, 1)) {
      ++out.ok;
    } else {
      ++out.failed;
      ++out.failed_by_cause[select.Text(2)];
    }
  }
  if (!select.finished()) return Error("reading rows");
  return out;
}

Result<std::map<std::string, int64_t>> SqliteCatalog::RepeatedContents(std::string_view set) {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT sha256, count(*) FROM items WHERE set_name = ?1 AND status = 'ok'
    GROUP BY sha256 HAVING count(*) > 1)sql");
  if (!select.ok()) return Error("preparing RepeatedContents");
  select.Bind(1, set);
  std::map<std::string, int64_t> out;
  while (select.Next()) out[select.Text(0)] = sqlite3_column_int64(select.get(), 1);
  if (!select.finished()) return Error("reading rows");
  return out;
}

Result<std::vector<ItemOfContent>> SqliteCatalog::ItemsOfContent(std::string_view sha256) {
  std::lock_guard lock(mu_);
  Statement select(statements_, StrCat("SELECT set_name, ", kItemColumns,
                                       " FROM items WHERE sha256 = ?1 ORDER BY set_name, url")
                                    .c_str());
  if (!select.ok()) return Error("preparing ItemsOfContent");
  select.Bind(1, sha256);
  std::vector<ItemOfContent> out;
  while (select.Next()) out.push_back({.set = select.Text(0), .item = ItemFromRow(select, 1)});
  if (!select.finished()) return Error("reading rows");
  return out;
}

Result<std::vector<SetTotals>> SqliteCatalog::ListSets() {
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   "SELECT name, items, ok, failed, bytes, commits FROM sets ORDER BY name");
  if (!select.ok()) return Error("preparing ListSets");
  std::vector<SetTotals> sets;
  while (select.Next()) {
    sets.push_back({select.Text(0), select.Int(1), select.Int(2), select.Int(3), select.Int(4),
                    select.Int(5)});
  }
  if (!select.finished()) return Error("reading rows");
  return sets;
}

Result<std::vector<CachedStep>> SqliteCatalog::CachedSteps(
    const std::vector<std::string>& item_sha256s) {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT step_key, item_sha256, method, version, output, artifacts FROM step_cache WHERE item_sha256 = ?1)sql");
  if (!select.ok()) return Error("preparing CachedSteps");
  std::vector<CachedStep> out;
  for (const std::string& sha : item_sha256s) {
    sqlite3_reset(select.get());
    select.Bind(1, sha);
    while (select.Next()) {
      out.push_back({select.Text(0), select.Text(1), select.Text(2),
                     static_cast<int>(select.Int(3)), select.Text(4), select.Text(5)});
    }
    if (!select.finished()) return Error("reading rows");
  }
  return out;
}

Result<SetTotals> SqliteCatalog::CommitAnalysis(std::string_view set, const AnalysisCommit& commit,
                                                std::optional<Lease> lease) {
  const std::vector<ItemFailure>& failed_items = commit.failed_items;
  std::lock_guard lock(mu_);
  SLUICE_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto rollback = [&](Status s) {
    Exec("ROLLBACK").IgnoreError();
    return s;
  };
  if (lease) {
    Status completed = CompleteLocked(*lease);
    if (!completed.ok()) return rollback(completed);
  }
  {
    Statement known(statements_, "SELECT 1 FROM sets WHERE name = ?1");
    if (!known.ok()) return rollback(Error("preparing set lookup"));
    known.Bind(1, set);
    if (sqlite3_step(known.get()) != SQLITE_ROW)
      return rollback(absl::NotFoundError(StrCat("no set named '", set, "'")));
    if (commit.only_urls.empty()) {
      for (const char* sql : {"DELETE FROM steps WHERE set_name = ?1",
                              "DELETE FROM checkpoints WHERE set_name = ?1"}) {
        Statement clear(statements_, sql);
        if (!clear.ok()) return rollback(Error("preparing step delete"));
        clear.Bind(1, set);
        if (sqlite3_step(clear.get()) != SQLITE_DONE) return rollback(Error("clearing steps"));
      }
    } else {
      Statement clear(statements_, "DELETE FROM steps WHERE set_name = ?1 AND url = ?2");
      if (!clear.ok()) return rollback(Error("preparing step delete"));
      for (const std::string& url : commit.only_urls) {
        sqlite3_reset(clear.get());
        clear.Bind(1, set);
        clear.Bind(2, url);
        if (sqlite3_step(clear.get()) != SQLITE_DONE) return rollback(Error("clearing steps"));
      }
    }
    Statement insert(statements_, R"sql(
      INSERT INTO steps(set_name, url, method, version, step_key, ok, output, artifacts, failure_cause,
                        failure_details, millis)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11))sql");
    if (!insert.ok()) return rollback(Error("preparing step insert"));
    Statement cache_insert(statements_, R"sql(
      INSERT INTO step_cache(step_key, item_sha256, method, version, output, artifacts, created_at)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(item_sha256, step_key) DO NOTHING)sql");
    if (!cache_insert.ok()) return rollback(Error("preparing cache insert"));
    int64_t now = NowMillis();
    auto insert_rows = [&](const std::vector<StepRow>& steps,
                           const std::vector<CachedStep>& cache) -> Status {
      for (const StepRow& step : steps) {
        sqlite3_reset(insert.get());
        insert.Bind(1, set);
        insert.Bind(2, step.url);
        insert.Bind(3, step.method);
        insert.Bind(4, int64_t{step.version});
        insert.Bind(5, step.step_key);
        insert.Bind(6, int64_t{step.ok ? 1 : 0});
        insert.BindOrNull(7, step.output_json);
        insert.BindOrNull(8, step.artifacts_json);
        insert.BindOrNull(9, step.failure_cause);
        insert.BindOrNull(10, step.failure_details);
        sqlite3_bind_double(insert.get(), 11, step.millis);
        if (sqlite3_step(insert.get()) != SQLITE_DONE)
          return Error("recording step " + step.method);
      }
      for (const CachedStep& entry : cache) {
        sqlite3_reset(cache_insert.get());
        cache_insert.Bind(1, entry.step_key);
        cache_insert.Bind(2, entry.item_sha256);
        cache_insert.Bind(3, entry.method);
        cache_insert.Bind(4, int64_t{entry.version});
        cache_insert.Bind(5, entry.output_json);
        cache_insert.Bind(6, entry.artifacts_json);
        cache_insert.Bind(7, now);
        if (sqlite3_step(cache_insert.get()) != SQLITE_DONE)
          return Error("caching step " + entry.method);
      }
      return absl::OkStatus();
    };
    if (Status inserted = ForEachStepBatch(commit, insert_rows); !inserted.ok())
      return rollback(inserted);
    Statement fail_item(statements_, R"sql(
      UPDATE items SET status = 'failed', failure_cause = ?3, failure_details = ?4, updated_at = ?5
      WHERE set_name = ?1 AND url = ?2)sql");
    if (!fail_item.ok()) return rollback(Error("preparing item failure"));
    for (const ItemFailure& failure : failed_items) {
      sqlite3_reset(fail_item.get());
      fail_item.Bind(1, set);
      fail_item.Bind(2, failure.url);
      fail_item.Bind(3, failure.cause);
      fail_item.Bind(4, failure.details);
      fail_item.Bind(5, now);
      if (sqlite3_step(fail_item.get()) != SQLITE_DONE)
        return rollback(Error("recording the failure of " + failure.url));
    }
    Status stored = StoreEmbeddingsLocked(commit.embeddings, now);
    if (stored.ok()) stored = StoreHashesLocked(commit.hashes, now);
    if (!stored.ok()) return rollback(stored);
  }
  Result<SetTotals> totals = FinishSetLocked(set, /*count_commit=*/true);
  if (!totals.ok()) return rollback(totals.status());
  Status committed = Exec("COMMIT");
  if (!committed.ok()) return rollback(committed);
  return totals;
}

Status SqliteCatalog::StoreEmbeddingsLocked(const std::vector<EmbeddingRow>& embeddings,
                                            int64_t now) {
  if (embeddings.empty()) return absl::OkStatus();
  Statement dimension(statements_,
                      "SELECT dimensions FROM embeddings WHERE method = ?1 AND model = ?2 LIMIT 1");
  Statement insert(statements_, R"sql(
    INSERT INTO embeddings(item_sha256, method, model, item_id, dimensions, vector, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING)sql");
  if (!dimension.ok() || !insert.ok()) return Error("preparing embedding insert");
  for (const EmbeddingRow& row : embeddings) {
    sqlite3_reset(dimension.get());
    dimension.Bind(1, row.method);
    dimension.Bind(2, row.model);
    if (sqlite3_step(dimension.get()) == SQLITE_ROW &&
        dimension.Int(0) != static_cast<int64_t>(row.vector.size()))
      return EmbeddingDimensionMismatch(row, dimension.Int(0));
    sqlite3_reset(insert.get());
    insert.Bind(1, row.item_sha256);
    insert.Bind(2, row.method);
    insert.Bind(3, row.model);
    insert.Bind(4, row.item_id);
    insert.Bind(5, static_cast<int64_t>(row.vector.size()));
    sqlite3_bind_blob(insert.get(), 6, row.vector.data(),
                      static_cast<int>(row.vector.size() * sizeof(float)), SQLITE_TRANSIENT);
    insert.Bind(7, now);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return Error("storing an embedding");
  }
  return absl::OkStatus();
}

Status SqliteCatalog::StoreHashesLocked(const std::vector<HashRow>& hashes, int64_t now) {
  if (hashes.empty()) return absl::OkStatus();
  Statement insert(statements_, R"sql(
    INSERT INTO content_hashes(item_sha256, method, item_id, hash, created_at)
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING)sql");
  if (!insert.ok()) return Error("preparing hash insert");
  for (const HashRow& row : hashes) {
    sqlite3_reset(insert.get());
    insert.Bind(1, row.item_sha256);
    insert.Bind(2, row.method);
    insert.Bind(3, row.item_id);
    insert.Bind(4, static_cast<int64_t>(row.hash));  // the bits as they are
    insert.Bind(5, now);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) return Error("storing a hash");
  }
  return absl::OkStatus();
}

Result<std::vector<HashSpace>> SqliteCatalog::HashSpaces() {
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   "SELECT method, COUNT(*) FROM content_hashes GROUP BY method ORDER BY method");
  if (!select.ok()) return Error("preparing HashSpaces");
  std::vector<HashSpace> spaces;
  while (select.Next()) spaces.push_back({select.Text(0), select.Int(1)});
  if (!select.finished()) return Error("reading rows");
  return spaces;
}

Result<std::vector<HashRow>> SqliteCatalog::ListHashes(std::string_view method,
                                                       std::string_view after_sha256, int limit) {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT item_sha256, item_id, hash FROM content_hashes
    WHERE method = ?1 AND item_sha256 > ?2 ORDER BY item_sha256 LIMIT ?3)sql");
  if (!select.ok()) return Error("preparing ListHashes");
  select.Bind(1, method);
  select.Bind(2, after_sha256);
  select.Bind(3, int64_t{limit});
  std::vector<HashRow> out;
  while (select.Next())
    out.push_back({.item_sha256 = select.Text(0),
                   .item_id = select.Int(1),
                   .method = std::string(method),
                   .hash = static_cast<uint64_t>(select.Int(2))});
  if (!select.finished()) return Error("reading rows");
  return out;
}

Result<std::vector<EmbeddingSpace>> SqliteCatalog::EmbeddingSpaces() {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT method, model, MAX(dimensions), COUNT(*) FROM embeddings
    GROUP BY method, model ORDER BY method, model)sql");
  if (!select.ok()) return Error("preparing EmbeddingSpaces");
  std::vector<EmbeddingSpace> spaces;
  while (select.Next())
    spaces.push_back(
        {select.Text(0), select.Text(1), static_cast<int>(select.Int(2)), select.Int(3)});
  if (!select.finished()) return Error("reading rows");
  return spaces;
}

Result<std::vector<EmbeddingRow>> SqliteCatalog::ListEmbeddings(std::string_view method,
                                                                std::string_view model,
                                                                std::string_view after_sha256,
                                                                int limit) {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT item_sha256, method, model, item_id, vector FROM embeddings
    WHERE method = ?1 AND model = ?2 AND item_sha256 > ?3 ORDER BY item_sha256 LIMIT ?4)sql");
  if (!select.ok()) return Error("preparing ListEmbeddings");
  select.Bind(1, method);
  select.Bind(2, model);
  select.Bind(3, after_sha256);
  select.Bind(4, int64_t{limit});
  std::vector<EmbeddingRow> rows = EmbeddingRows(select);
  if (!select.finished()) return Error("reading embeddings");
  return rows;
}

Result<std::vector<EmbeddingRow>> SqliteCatalog::EmbeddingsOf(std::string_view sha256) {
  std::lock_guard lock(mu_);
  Statement select(statements_, R"sql(
    SELECT item_sha256, method, model, item_id, vector FROM embeddings
    WHERE item_sha256 = ?1 ORDER BY method, model)sql");
  if (!select.ok()) return Error("preparing EmbeddingsOf");
  select.Bind(1, sha256);
  std::vector<EmbeddingRow> rows = EmbeddingRows(select);
  if (!select.finished()) return Error("reading embeddings");
  return rows;
}

Result<std::vector<ItemOfContent>> SqliteCatalog::ItemsWithContentIds(
    const std::vector<int64_t>& item_ids) {
  std::lock_guard lock(mu_);
  // kItemColumns name only items' columns: the subquery's are item_id and item_sha256.
  Statement select(statements_, StrCat("SELECT e.item_id, i.set_name, ", kItemColumns, R"sql(
    FROM (SELECT item_id, item_sha256 FROM embeddings WHERE item_id = ?1
          UNION SELECT item_id, item_sha256 FROM content_hashes WHERE item_id = ?1) e
    JOIN items i ON i.sha256 = e.item_sha256
    WHERE i.status = 'ok' ORDER BY i.set_name, i.url)sql")
                                    .c_str());
  if (!select.ok()) return Error("preparing ItemsWithContentIds");
  std::vector<ItemOfContent> out;
  for (int64_t id : item_ids) {
    sqlite3_reset(select.get());
    select.Bind(1, id);
    while (select.Next())
      out.push_back(
          {.item_id = select.Int(0), .set = select.Text(1), .item = ItemFromRow(select, 2)});
    if (!select.finished()) return Error("reading rows");
  }
  std::sort(out.begin(), out.end(), [](const ItemOfContent& a, const ItemOfContent& b) {
    return std::tie(a.set, a.item.url) < std::tie(b.set, b.item.url);
  });
  return out;
}

namespace {

constexpr const char* kStepColumns =
    "url, method, version, step_key, ok, output, artifacts, failure_cause, failure_details, "
    "millis";

// Appends the rows of a SELECT kStepColumns to `out`.
void AppendStepRows(Statement& select, std::vector<StepRow>& out) {
  while (select.Next()) {
    out.push_back({select.Text(0), select.Text(1), static_cast<int>(select.Int(2)), select.Text(3),
                   select.Int(4) != 0, select.Text(5), select.Text(6), select.Text(7),
                   select.Text(8), sqlite3_column_double(select.get(), 9)});
  }
  // The caller checks select.finished().
}

}  // namespace

Result<std::vector<StepRow>> SqliteCatalog::ListSteps(std::string_view set) {
  std::lock_guard lock(mu_);
  Statement select(statements_, StrCat("SELECT ", kStepColumns,
                                       " FROM steps WHERE set_name = ?1 ORDER BY url, method")
                                    .c_str());
  if (!select.ok()) return Error("preparing ListSteps");
  select.Bind(1, set);
  std::vector<StepRow> out;
  AppendStepRows(select, out);
  if (!select.finished()) return Error("reading steps");
  return out;
}

Result<std::vector<StepRow>> SqliteCatalog::ListSteps(std::string_view set,
                                                      const std::vector<std::string>& urls) {
  std::vector<std::string> sorted = urls;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   StrCat("SELECT ", kStepColumns,
                          " FROM steps WHERE set_name = ?1 AND url = ?2 ORDER BY method")
                       .c_str());
  if (!select.ok()) return Error("preparing ListSteps");
  std::vector<StepRow> out;
  for (const std::string& url : sorted) {
    sqlite3_reset(select.get());
    select.Bind(1, set);
    select.Bind(2, url);
    AppendStepRows(select, out);
    if (!select.finished()) return Error("reading steps");
  }
  return out;
}

Result<std::vector<std::string>> SqliteCatalog::LoadCheckpoints(std::string_view set) {
  std::lock_guard lock(mu_);
  Statement select(statements_, "SELECT entry FROM checkpoints WHERE set_name = ?1 ORDER BY seq");
  if (!select.ok()) return Error("preparing LoadCheckpoints");
  select.Bind(1, set);
  std::vector<std::string> lines;
  while (select.Next()) lines.push_back(select.Text(0));
  if (!select.finished()) return Error("reading rows");
  return lines;
}

Status SqliteCatalog::SaveCheckpoints(std::string_view set, const std::vector<std::string>& lines) {
  std::lock_guard lock(mu_);
  return InTransaction([&]() -> Status {
    Statement insert(statements_, "INSERT INTO checkpoints(set_name, entry) VALUES (?1, ?2)");
    if (!insert.ok()) return Error("preparing checkpoint insert");
    for (const std::string& line : lines) {
      sqlite3_reset(insert.get());
      insert.Bind(1, set);
      insert.Bind(2, line);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) return Error("saving a checkpoint");
    }
    return absl::OkStatus();
  });
}

}  // namespace sluice::db
