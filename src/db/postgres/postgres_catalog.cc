#include "db/postgres/postgres_catalog.h"

#include <map>

#include "common/strings.h"

namespace sluice::db {
namespace {

// Versioned schema changes, applied in order, each in its own transaction. Never edit one that
// has shipped: add the next.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE sets(
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  items bigint NOT NULL DEFAULT 0,
  ok bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  commits bigint NOT NULL DEFAULT 0);
-- No foreign keys to sets: every writer inserts or locks the set row first in the same
-- transaction, and per-row key checks cost a third of a bulk commit (bench/db_bench.sh).
CREATE TABLE items(
  set_name text NOT NULL,
  url text NOT NULL,
  status text NOT NULL CHECK (status IN ('ok', 'failed')),
  final_url text,
  sha256 text,
  size bigint,
  mime text,
  kind text,
  store_key text,
  failure_cause text,
  failure_details text,
  requests integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (set_name, url));
CREATE TABLE steps(
  set_name text NOT NULL,
  url text NOT NULL,
  method text NOT NULL,
  version integer NOT NULL,
  step_key text NOT NULL,
  ok boolean NOT NULL,
  output text,
  artifacts text,
  failure_cause text,
  failure_details text,
  millis double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (set_name, url, method));
CREATE TABLE step_cache(
  step_key text PRIMARY KEY,
  item_sha256 text NOT NULL,
  method text NOT NULL,
  version integer NOT NULL,
  output text NOT NULL,
  artifacts text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX step_cache_by_item ON step_cache(item_sha256);
)sql"},
    {2, R"sql(
CREATE FUNCTION sluice_now_ms() RETURNS bigint LANGUAGE sql VOLATILE
  AS 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint';
CREATE TABLE jobs(
  id bigserial PRIMARY KEY,
  token text NOT NULL UNIQUE,
  set_name text NOT NULL,
  state text NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
  priority integer NOT NULL DEFAULT 0,
  fair_rank bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  epoch bigint NOT NULL DEFAULT 0,
  worker text,
  urls text NOT NULL,
  dedupe_key text UNIQUE,
  run_at bigint NOT NULL,
  created_at bigint NOT NULL,
  started_at bigint,
  finished_at bigint,
  lease_until bigint,
  heartbeat_at bigint,
  failure_cause text,
  failure_details text);
CREATE INDEX jobs_ready ON jobs(priority DESC, fair_rank, id) WHERE state = 'queued';
CREATE INDEX jobs_by_set ON jobs(set_name, fair_rank) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_leases ON jobs(lease_until) WHERE state = 'running';
)sql"},
    {3, R"sql(
CREATE TABLE checkpoints(
  seq bigserial PRIMARY KEY,
  set_name text NOT NULL,
  entry text NOT NULL);
CREATE INDEX checkpoints_by_set ON checkpoints(set_name, seq);
)sql"},
    {4, R"sql(
ALTER TABLE jobs ADD COLUMN pipeline text NOT NULL DEFAULT 'default';
)sql"},
    {5, R"sql(
CREATE TABLE embeddings(
  item_sha256 text NOT NULL,
  method text NOT NULL,
  model text NOT NULL,
  item_id bigint NOT NULL,
  dimensions integer NOT NULL,
  vector bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (method, model, item_sha256));
CREATE INDEX embeddings_by_id ON embeddings(item_id);
CREATE INDEX embeddings_by_item ON embeddings(item_sha256);
CREATE INDEX items_by_content ON items(sha256);
)sql"},
    {6, R"sql(
CREATE TABLE content_hashes(
  item_sha256 text NOT NULL,
  method text NOT NULL,
  item_id bigint NOT NULL,
  hash bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (method, item_sha256));
CREATE INDEX content_hashes_by_id ON content_hashes(item_id);
)sql"},
    {7, R"sql(
CREATE TABLE api_keys(
  name text PRIMARY KEY,
  prefix text NOT NULL,
  hash text NOT NULL UNIQUE,
  requests_per_minute double precision NOT NULL DEFAULT 0,
  created_ms bigint NOT NULL,
  revoked_ms bigint NOT NULL DEFAULT 0);
)sql"},
    // The step cache is read by content only: one index on (content, step key) instead of
    // two, and an item's entries side by side in it.
    {8, R"sql(
ALTER TABLE step_cache DROP CONSTRAINT step_cache_pkey;
DROP INDEX step_cache_by_item;
ALTER TABLE step_cache ADD PRIMARY KEY (item_sha256, step_key);
)sql"},
};

constexpr int64_t kMigrationLock = 0x736c75696365;  // "sluice"

// Staging tables live per connection and empty themselves at commit.
constexpr const char* kStaging = R"sql(
CREATE TEMP TABLE IF NOT EXISTS items_staging(
  url text, status text, final_url text, sha256 text, size bigint, mime text, kind text,
  store_key text, failure_cause text, failure_details text, requests integer)
  ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS step_cache_staging(
  step_key text, item_sha256 text, method text, version integer, output text, artifacts text)
  ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS embeddings_staging(
  item_sha256 text, method text, model text, item_id bigint, dimensions integer, vector bytea)
  ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS content_hashes_staging(
  item_sha256 text, method text, item_id bigint, hash bigint)
  ON COMMIT DELETE ROWS;
)sql";

std::string IntText(int64_t value) { return std::to_string(value); }

constexpr const char* kItemColumns =
    "url, status, final_url, sha256, size, mime, kind, store_key, failure_cause, "
    "failure_details, requests";

// An item from kItemColumns, starting at column `first` of `row`.
ItemRecord ItemFromRow(const pg::Rows& rows, int row, int first) {
  ItemRecord item;
  item.url = rows.Text(row, first);
  item.status = rows.Text(row, first + 1) == "ok" ? ItemStatus::kOk : ItemStatus::kFailed;
  item.final_url = rows.Text(row, first + 2);
  item.sha256 = rows.Text(row, first + 3);
  item.size = rows.Int(row, first + 4);
  item.mime = rows.Text(row, first + 5);
  item.kind = rows.Text(row, first + 6);
  item.store_key = rows.Text(row, first + 7);
  item.failure_cause = rows.Text(row, first + 8);
  item.failure_details = rows.Text(row, first + 9);
  item.requests = static_cast<int>(rows.Int(row, first + 10));
  return item;
}

// float32s, little-endian as stored, as a COPY text field in bytea's hex form: COPY reads the
// doubled backslash as the one that starts "\x…".
std::string VectorCopyField(const std::vector<float>& vector) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex = "\\\\x";
  const auto* bytes = reinterpret_cast<const unsigned char*>(vector.data());
  for (size_t i = 0; i < vector.size() * sizeof(float); ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 15]);
  }
  return hex;
}

std::vector<float> VectorFromHex(std::string_view hex) {
  if (hex.starts_with("\\x")) hex.remove_prefix(2);
  std::vector<float> vector(hex.size() / 2 / sizeof(float));
  auto* bytes = reinterpret_cast<unsigned char*>(vector.data());
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i < vector.size() * sizeof(float); ++i)
    bytes[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return vector;
}

// SELECT item_sha256, method, model, item_id, vector ... as rows.
std::vector<EmbeddingRow> EmbeddingRows(const pg::Rows& rows) {
  std::vector<EmbeddingRow> out;
  for (int i = 0; i < rows.size(); ++i)
    out.push_back({.item_sha256 = rows.Text(i, 0),
                   .item_id = rows.Int(i, 3),
                   .method = rows.Text(i, 1),
                   .model = rows.Text(i, 2),
                   .vector = VectorFromHex(rows.Text(i, 4))});
  return out;
}

// Stores `embeddings` inside the caller's transaction on `c`.
Status StoreEmbeddingsOn(pg::Connection& c, const std::vector<EmbeddingRow>& embeddings) {
  if (embeddings.empty()) return absl::OkStatus();
  std::map<std::pair<std::string, std::string>, size_t> dimensions;
  std::string data;
  for (const EmbeddingRow& row : embeddings) {
    auto [it, added] = dimensions.try_emplace({row.method, row.model}, row.vector.size());
    if (!added && it->second != row.vector.size())
      return EmbeddingDimensionMismatch(row, static_cast<int64_t>(it->second));
    pg::AppendCopyField(data, row.item_sha256, /*first=*/true);
    pg::AppendCopyField(data, row.method);
    pg::AppendCopyField(data, row.model);
    pg::AppendCopyField(data, IntText(row.item_id));
    pg::AppendCopyField(data, IntText(static_cast<int64_t>(row.vector.size())));
    data += '\t';
    data += VectorCopyField(row.vector);
    data.push_back('\n');
  }
  for (const auto& [space, size] : dimensions) {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows stored,
        c.Exec("SELECT dimensions FROM embeddings WHERE method = $1 AND model = $2 LIMIT 1",
               pg::Params().Add(space.first).Add(space.second)));
    if (!stored.empty() && stored.Int(0, 0) != static_cast<int64_t>(size))
      return EmbeddingDimensionMismatch(
          EmbeddingRow{
              .method = space.first, .model = space.second, .vector = std::vector<float>(size)},
          stored.Int(0, 0));
  }
  SLUICE_RETURN_IF_ERROR(c.ExecScript(kStaging));
  SLUICE_RETURN_IF_ERROR(c.CopyIn("COPY embeddings_staging FROM STDIN", data));
  return c.ExecScript(R"sql(
    INSERT INTO embeddings(item_sha256, method, model, item_id, dimensions, vector)
    SELECT DISTINCT ON (method, model, item_sha256) item_sha256, method, model, item_id,
           dimensions, vector
    FROM embeddings_staging ORDER BY method, model, item_sha256
    ON CONFLICT DO NOTHING)sql");
}

// Stores `hashes` inside the caller's transaction on `c`.
Status StoreHashesOn(pg::Connection& c, const std::vector<HashRow>& hashes) {
  if (hashes.empty()) return absl::OkStatus();
  std::string data;
  for (const HashRow& row : hashes) {
    pg::AppendCopyField(data, row.item_sha256, /*first=*/true);
    pg::AppendCopyField(data, row.method);
    pg::AppendCopyField(data, IntText(row.item_id));
    pg::AppendCopyField(data, IntText(static_cast<int64_t>(row.hash)));  // the bits as they are
    data.push_back('\n');
  }
  SLUICE_RETURN_IF_ERROR(c.ExecScript(kStaging));
  SLUICE_RETURN_IF_ERROR(c.CopyIn("COPY content_hashes_staging FROM STDIN", data));
  return c.ExecScript(R"sql(
    INSERT INTO content_hashes(item_sha256, method, item_id, hash)
    SELECT DISTINCT ON (method, item_sha256) item_sha256, method, item_id, hash
    FROM content_hashes_staging ORDER BY method, item_sha256
    ON CONFLICT DO NOTHING)sql");
}

void AppendOptional(std::string& line, std::string_view value) {
  if (value.empty()) {
    pg::AppendCopyNull(line);
  } else {
    pg::AppendCopyField(line, value);
  }
}

Result<SetTotals> FinishSetOn(pg::Connection& c, std::string_view set, bool count_commit) {
  SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
    UPDATE sets SET finished_at = now(), items = c.items, ok = c.ok, failed = c.failed,
                    bytes = c.bytes, commits = sets.commits + $2
    FROM (SELECT count(*) AS items,
                 count(*) FILTER (WHERE status = 'ok') AS ok,
                 count(*) FILTER (WHERE status = 'failed') AS failed,
                 coalesce(sum(size) FILTER (WHERE status = 'ok'), 0) AS bytes
          FROM items WHERE set_name = $1) AS c
    WHERE name = $1
    RETURNING sets.items, sets.ok, sets.failed, sets.bytes, sets.commits)sql",
                                                pg::Params().Add(set).Add(int64_t{count_commit})));
  if (rows.empty()) return absl::NotFoundError(StrCat("no set named '", set, "'"));
  return SetTotals{std::string(set), rows.Int(0, 0), rows.Int(0, 1),
                   rows.Int(0, 2),   rows.Int(0, 3), rows.Int(0, 4)};
}

}  // namespace

Status MigratePostgres(pg::Connection& c) {
  SLUICE_RETURN_IF_ERROR(
      c.Exec("SELECT pg_advisory_lock($1)", pg::Params().Add(kMigrationLock)).status());
  auto migrate = [&]() -> Status {
    SLUICE_RETURN_IF_ERROR(
        c.ExecScript("CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())"));
    SLUICE_ASSIGN_OR_RETURN(pg::Rows current,
                            c.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations"));
    int64_t at = current.Int(0, 0);
    int64_t newest = kMigrations[std::size(kMigrations) - 1].version;
    if (at > newest) {
      return Failure(absl::StatusCode::kFailedPrecondition, "schema_too_new",
                     StrCat("the database is at schema version ", at, " but this sluice knows ",
                            newest, "; upgrade sluice"));
    }
    for (const Migration& migration : kMigrations) {
      if (migration.version <= at) continue;
      SLUICE_RETURN_IF_ERROR(c.Transaction([&]() -> Status {
        SLUICE_RETURN_IF_ERROR(c.ExecScript(migration.sql));
        return c
            .Exec("INSERT INTO schema_migrations(version) VALUES ($1)",
                  pg::Params().Add(int64_t{migration.version}))
            .status();
      }));
    }
    return absl::OkStatus();
  };
  Status status = migrate();
  if (c.healthy())
    c.Exec("SELECT pg_advisory_unlock($1)", pg::Params().Add(kMigrationLock)).IgnoreError();
  return status;
}

Result<std::unique_ptr<PostgresCatalog>> PostgresCatalog::Open(const std::string& conninfo,
                                                               pg::Pool::Options options) {
  // Starting up, a database that does not answer is more likely a wrong URI than a restart:
  // give it a few seconds, not the whole reconnect window.
  pg::Pool::Options starting = options;
  starting.reconnect_for = std::min(options.reconnect_for, std::chrono::milliseconds(3'000));
  {
    pg::Pool first(conninfo, starting);
    SLUICE_RETURN_IF_ERROR(first.Run([](pg::Connection& c) { return MigratePostgres(c); }));
  }
  auto pool = std::make_unique<pg::Pool>(conninfo, options);
  return std::unique_ptr<PostgresCatalog>(new PostgresCatalog(std::move(pool)));
}

PostgresCatalog::~PostgresCatalog() = default;

Result<int> PostgresCatalog::SchemaVersion() {
  return pool_->Get<int>([](pg::Connection& c) -> Result<int> {
    SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec("SELECT max(version) FROM schema_migrations"));
    return static_cast<int>(rows.Int(0, 0));
  });
}

Result<std::vector<std::string>> PostgresCatalog::CompletedUrls(std::string_view set) {
  return pool_->Get<std::vector<std::string>>(
      [&](pg::Connection& c) -> Result<std::vector<std::string>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec("SELECT url FROM items WHERE set_name = $1 AND status = 'ok' ORDER BY url",
                   pg::Params().Add(set)));
        std::vector<std::string> urls;
        urls.reserve(static_cast<size_t>(rows.size()));
        for (int i = 0; i < rows.size(); ++i) urls.push_back(rows.Text(i, 0));
        return urls;
      });
}

Status PostgresCatalog::RecordItems(std::string_view set, const std::vector<ItemRecord>& items) {
  std::string data;
  for (const ItemRecord& item : items) {
    pg::AppendCopyField(data, item.url, /*first=*/true);
    pg::AppendCopyField(data, ItemStatusName(item.status));
    AppendOptional(data, item.final_url);
    AppendOptional(data, item.sha256);
    pg::AppendCopyField(data, IntText(item.size));
    AppendOptional(data, item.mime);
    AppendOptional(data, item.kind);
    AppendOptional(data, item.store_key);
    AppendOptional(data, item.failure_cause);
    AppendOptional(data, item.failure_details);
    pg::AppendCopyField(data, IntText(item.requests));
    data.push_back('\n');
  }
  return pool_->Run([&](pg::Connection& c) {
    return c.Transaction([&]() -> Status {
      SLUICE_RETURN_IF_ERROR(
          c.Exec("INSERT INTO sets(name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                 pg::Params().Add(set))
              .status());
      if (items.empty()) return absl::OkStatus();
      SLUICE_RETURN_IF_ERROR(c.ExecScript(kStaging));
      SLUICE_RETURN_IF_ERROR(c.CopyIn("COPY items_staging FROM STDIN", data));
      // One row per URL (an ok row wins within a batch); an ok row is never replaced by a
      // failure, so a late retry of a finished item changes nothing.
      return c
          .Exec(R"sql(
        INSERT INTO items(set_name, url, status, final_url, sha256, size, mime, kind, store_key,
                          failure_cause, failure_details, requests)
        SELECT DISTINCT ON (url) $1, url, status, final_url, sha256, size, mime, kind, store_key,
               failure_cause, failure_details, requests
        FROM items_staging ORDER BY url, (status = 'ok') DESC
        ON CONFLICT (set_name, url) DO UPDATE SET
          status = excluded.status, final_url = excluded.final_url, sha256 = excluded.sha256,
          size = excluded.size, mime = excluded.mime, kind = excluded.kind,
          store_key = excluded.store_key, failure_cause = excluded.failure_cause,
          failure_details = excluded.failure_details, requests = excluded.requests,
          updated_at = now()
        WHERE items.status <> 'ok' OR excluded.status = 'ok')sql",
                pg::Params().Add(set))
          .status();
    });
  });
}

Result<SetTotals> PostgresCatalog::FinishSet(std::string_view set) {
  return pool_->Get<SetTotals>(
      [&](pg::Connection& c) { return FinishSetOn(c, set, /*count_commit=*/false); });
}

Result<std::vector<ItemRecord>> PostgresCatalog::ListItems(std::string_view set) {
  return pool_->Get<std::vector<ItemRecord>>(
      [&](pg::Connection& c) -> Result<std::vector<ItemRecord>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec(StrCat("SELECT ", kItemColumns,
                          " FROM items WHERE set_name = $1 ORDER BY url COLLATE \"C\""),
                   pg::Params().Add(set)));
        std::vector<ItemRecord> items;
        items.reserve(static_cast<size_t>(rows.size()));
        for (int i = 0; i < rows.size(); ++i) items.push_back(ItemFromRow(rows, i, 0));
        return items;
      });
}

Result<std::vector<ItemRecord>> PostgresCatalog::ListItems(std::string_view set,
                                                           const std::vector<std::string>& urls) {
  if (urls.empty()) return std::vector<ItemRecord>{};
  return pool_->Get<std::vector<ItemRecord>>(
      [&](pg::Connection& c) -> Result<std::vector<ItemRecord>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec(StrCat("SELECT ", kItemColumns,
                          " FROM items WHERE set_name = $1 AND url = ANY($2::text[]) ORDER BY "
                          "url COLLATE \"C\""),
                   pg::Params().Add(set).Add(pg::TextArray(urls))));
        std::vector<ItemRecord> items;
        for (int i = 0; i < rows.size(); ++i) items.push_back(ItemFromRow(rows, i, 0));
        return items;
      });
}

Result<std::vector<ItemRecord>> PostgresCatalog::ListItemsPage(std::string_view set,
                                                               const ItemPageQuery& query) {
  return pool_->Get<std::vector<ItemRecord>>(
      [&](pg::Connection& c) -> Result<std::vector<ItemRecord>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec(StrCat("SELECT ", kItemColumns, R"sql( FROM items i
          WHERE i.set_name = $1 AND i.url COLLATE "C" > $2
            AND ($4 = '' OR i.status = $4) AND ($5 = '' OR i.kind = $5)
            AND ($6 = '' OR i.url ILIKE $6 OR i.failure_cause ILIKE $6
                 OR i.failure_details ILIKE $6
                 OR EXISTS (SELECT 1 FROM steps s WHERE s.set_name = i.set_name AND s.url = i.url
                            AND s.method <> ALL($7::text[])
                            AND (s.output ILIKE $6 OR s.failure_details ILIKE $6)))
          ORDER BY i.url COLLATE "C" LIMIT $3)sql"),
                   pg::Params()
                       .Add(set)
                       .Add(query.after_url)
                       .Add(int64_t{query.limit})
                       .Add(query.status ? ItemStatusName(*query.status) : std::string_view(""))
                       .Add(query.kind)
                       .Add(query.text.empty() ? std::string() : ContainsPattern(query.text))
                       .Add(pg::TextArray(query.text_skips_methods))));
        std::vector<ItemRecord> items;
        items.reserve(static_cast<size_t>(rows.size()));
        for (int i = 0; i < rows.size(); ++i) items.push_back(ItemFromRow(rows, i, 0));
        return items;
      });
}

Result<Outcomes> PostgresCatalog::CountOutcomes(std::string_view set,
                                                const std::vector<std::string>& urls) {
  if (urls.empty()) return Outcomes{};
  return pool_->Get<Outcomes>([&](pg::Connection& c) -> Result<Outcomes> {
    SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
      SELECT status, COALESCE(failure_cause, ''), count(*) FROM items
      WHERE set_name = $1 AND url = ANY($2::text[]) GROUP BY 1, 2)sql",
                                                  pg::Params().Add(set).Add(pg::TextArray(urls))));
    Outcomes out;
    for (int i = 0; i < rows.size(); ++i) {
      if (rows.Text(i, 0) == "ok") {
        out.ok += rows.Int(i, 2);
      } else {
        out.failed += rows.Int(i, 2);
        out.failed_by_cause[rows.Text(i, 1)] += rows.Int(i, 2);
      }
    }
    return out;
  });
}

Result<std::map<std::string, int64_t>> PostgresCatalog::RepeatedContents(std::string_view set) {
  return pool_->Get<std::map<std::string, int64_t>>(
      [&](pg::Connection& c) -> Result<std::map<std::string, int64_t>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
          SELECT sha256, count(*) FROM items WHERE set_name = $1 AND status = 'ok'
          GROUP BY sha256 HAVING count(*) > 1)sql",
                                                      pg::Params().Add(set)));
        std::map<std::string, int64_t> out;
        for (int i = 0; i < rows.size(); ++i) out[rows.Text(i, 0)] = rows.Int(i, 1);
        return out;
      });
}

Result<std::vector<ItemOfContent>> PostgresCatalog::ItemsOfContent(std::string_view sha256) {
  return pool_->Get<std::vector<ItemOfContent>>(
      [&](pg::Connection& c) -> Result<std::vector<ItemOfContent>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec(StrCat("SELECT set_name, ", kItemColumns,
                          " FROM items WHERE sha256 = $1 ORDER BY set_name COLLATE \"C\", url "
                          "COLLATE \"C\""),
                   pg::Params().Add(sha256)));
        std::vector<ItemOfContent> out;
        for (int i = 0; i < rows.size(); ++i)
          out.push_back({.set = rows.Text(i, 0), .item = ItemFromRow(rows, i, 1)});
        return out;
      });
}

Result<std::vector<SetTotals>> PostgresCatalog::ListSets() {
  return pool_->Get<std::vector<SetTotals>>(
      [&](pg::Connection& c) -> Result<std::vector<SetTotals>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec("SELECT name, items, ok, failed, bytes, commits FROM sets ORDER BY name "
                   "COLLATE \"C\""));
        std::vector<SetTotals> sets;
        for (int i = 0; i < rows.size(); ++i) {
          sets.push_back({rows.Text(i, 0), rows.Int(i, 1), rows.Int(i, 2), rows.Int(i, 3),
                          rows.Int(i, 4), rows.Int(i, 5)});
        }
        return sets;
      });
}

Result<std::vector<CachedStep>> PostgresCatalog::CachedSteps(
    const std::vector<std::string>& item_sha256s) {
  if (item_sha256s.empty()) return std::vector<CachedStep>{};
  std::string array = pg::TextArray(item_sha256s);
  return pool_->Get<std::vector<CachedStep>>(
      [&](pg::Connection& c) -> Result<std::vector<CachedStep>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
          SELECT step_key, item_sha256, method, version, output, artifacts
          FROM step_cache WHERE item_sha256 = ANY($1::text[]))sql",
                                                      pg::Params().Add(array)));
        std::vector<CachedStep> out;
        for (int i = 0; i < rows.size(); ++i) {
          out.push_back({rows.Text(i, 0), rows.Text(i, 1), rows.Text(i, 2),
                         static_cast<int>(rows.Int(i, 3)), rows.Text(i, 4), rows.Text(i, 5)});
        }
        return out;
      });
}

namespace {

// Copies step results (of `set`) and result cache entries inside the caller's transaction on
// `c`; the cache's staging rows go again, so that the next batch inserts only its own.
Status CopyStepsOn(pg::Connection& c, std::string_view set, const std::vector<StepRow>& steps,
                   const std::vector<CachedStep>& cache) {
  if (!steps.empty()) {
    std::string data;
    for (const StepRow& step : steps) {
      pg::AppendCopyField(data, set, /*first=*/true);
      pg::AppendCopyField(data, step.url);
      pg::AppendCopyField(data, step.method);
      pg::AppendCopyField(data, IntText(step.version));
      pg::AppendCopyField(data, step.step_key);
      pg::AppendCopyField(data, step.ok ? "t" : "f");
      AppendOptional(data, step.output_json);
      AppendOptional(data, step.artifacts_json);
      AppendOptional(data, step.failure_cause);
      AppendOptional(data, step.failure_details);
      pg::AppendCopyField(data, std::to_string(step.millis));
      data.push_back('\n');
    }
    SLUICE_RETURN_IF_ERROR(
        c.CopyIn("COPY steps(set_name, url, method, version, step_key, ok, output, artifacts, "
                 "failure_cause, failure_details, millis) FROM STDIN",
                 data));
  }
  if (cache.empty()) return absl::OkStatus();
  std::string data;
  for (const CachedStep& entry : cache) {
    pg::AppendCopyField(data, entry.step_key, /*first=*/true);
    pg::AppendCopyField(data, entry.item_sha256);
    pg::AppendCopyField(data, entry.method);
    pg::AppendCopyField(data, IntText(entry.version));
    pg::AppendCopyField(data, entry.output_json);
    pg::AppendCopyField(data, entry.artifacts_json);
    data.push_back('\n');
  }
  SLUICE_RETURN_IF_ERROR(c.ExecScript(kStaging));
  SLUICE_RETURN_IF_ERROR(c.CopyIn("COPY step_cache_staging FROM STDIN", data));
  return c.ExecScript(R"sql(
    INSERT INTO step_cache(step_key, item_sha256, method, version, output, artifacts)
    SELECT DISTINCT ON (item_sha256, step_key)
      step_key, item_sha256, method, version, output, artifacts
    FROM step_cache_staging ORDER BY item_sha256, step_key
    ON CONFLICT (item_sha256, step_key) DO NOTHING;
    TRUNCATE step_cache_staging)sql");
}

}  // namespace

Result<SetTotals> PostgresCatalog::CommitAnalysis(std::string_view set,
                                                  const AnalysisCommit& commit,
                                                  std::optional<Lease> lease) {
  const std::vector<ItemFailure>& failed_items = commit.failed_items;
  return pool_->Get<SetTotals>([&](pg::Connection& c) -> Result<SetTotals> {
    std::optional<SetTotals> totals;
    SLUICE_RETURN_IF_ERROR(c.Transaction([&]() -> Status {
      // The fence first: a stale worker writes nothing, and the job row stays locked until
      // COMMIT so no reaper can take the job over halfway.
      if (lease) SLUICE_RETURN_IF_ERROR(CompleteFenced(c, *lease));
      // Lock the set row: two commits of one set queue here instead of interleaving.
      SLUICE_ASSIGN_OR_RETURN(
          pg::Rows locked,
          c.Exec("SELECT 1 FROM sets WHERE name = $1 FOR UPDATE", pg::Params().Add(set)));
      if (locked.empty()) return absl::NotFoundError(StrCat("no set named '", set, "'"));
      if (commit.only_urls.empty()) {
        SLUICE_RETURN_IF_ERROR(
            c.Exec("DELETE FROM steps WHERE set_name = $1", pg::Params().Add(set)).status());
        SLUICE_RETURN_IF_ERROR(
            c.Exec("DELETE FROM checkpoints WHERE set_name = $1", pg::Params().Add(set)).status());
      } else {
        SLUICE_RETURN_IF_ERROR(
            c.Exec("DELETE FROM steps WHERE set_name = $1 AND url = ANY($2::text[])",
                   pg::Params().Add(set).Add(pg::TextArray(commit.only_urls)))
                .status());
      }
      SLUICE_RETURN_IF_ERROR(ForEachStepBatch(
          commit, [&](const std::vector<StepRow>& steps, const std::vector<CachedStep>& cache) {
            return CopyStepsOn(c, set, steps, cache);
          }));
      for (const ItemFailure& failure : failed_items) {
        SLUICE_RETURN_IF_ERROR(
            c.Exec("UPDATE items SET status = 'failed', failure_cause = $3, "
                   "failure_details = $4, updated_at = now() "
                   "WHERE set_name = $1 AND url = $2",
                   pg::Params().Add(set).Add(failure.url).Add(failure.cause).Add(failure.details))
                .status());
      }
      SLUICE_RETURN_IF_ERROR(StoreEmbeddingsOn(c, commit.embeddings));
      SLUICE_RETURN_IF_ERROR(StoreHashesOn(c, commit.hashes));
      SLUICE_ASSIGN_OR_RETURN(totals, FinishSetOn(c, set, /*count_commit=*/true));
      return absl::OkStatus();
    }));
    return *totals;
  });
}

Result<std::vector<EmbeddingSpace>> PostgresCatalog::EmbeddingSpaces() {
  return pool_->Get<std::vector<EmbeddingSpace>>(
      [&](pg::Connection& c) -> Result<std::vector<EmbeddingSpace>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
          SELECT method, model, MAX(dimensions), COUNT(*) FROM embeddings
          GROUP BY method, model ORDER BY method COLLATE "C", model COLLATE "C")sql"));
        std::vector<EmbeddingSpace> spaces;
        for (int i = 0; i < rows.size(); ++i)
          spaces.push_back(
              {rows.Text(i, 0), rows.Text(i, 1), static_cast<int>(rows.Int(i, 2)), rows.Int(i, 3)});
        return spaces;
      });
}

Result<std::vector<EmbeddingRow>> PostgresCatalog::ListEmbeddings(std::string_view method,
                                                                  std::string_view model,
                                                                  std::string_view after_sha256,
                                                                  int limit) {
  return pool_->Get<std::vector<EmbeddingRow>>(
      [&](pg::Connection& c) -> Result<std::vector<EmbeddingRow>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec(R"sql(
          SELECT item_sha256, method, model, item_id, vector FROM embeddings
          WHERE method = $1 AND model = $2 AND item_sha256 COLLATE "C" > $3
          ORDER BY item_sha256 COLLATE "C" LIMIT $4)sql",
                   pg::Params().Add(method).Add(model).Add(after_sha256).Add(int64_t{limit})));
        return EmbeddingRows(rows);
      });
}

Result<std::vector<EmbeddingRow>> PostgresCatalog::EmbeddingsOf(std::string_view sha256) {
  return pool_->Get<std::vector<EmbeddingRow>>(
      [&](pg::Connection& c) -> Result<std::vector<EmbeddingRow>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
          SELECT item_sha256, method, model, item_id, vector FROM embeddings
          WHERE item_sha256 = $1 ORDER BY method COLLATE "C", model COLLATE "C")sql",
                                                      pg::Params().Add(sha256)));
        return EmbeddingRows(rows);
      });
}

Result<std::vector<HashSpace>> PostgresCatalog::HashSpaces() {
  return pool_->Get<std::vector<HashSpace>>(
      [&](pg::Connection& c) -> Result<std::vector<HashSpace>> {
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows, c.Exec(R"sql(
          SELECT method, COUNT(*) FROM content_hashes GROUP BY method
          ORDER BY method COLLATE "C")sql"));
        std::vector<HashSpace> spaces;
        for (int i = 0; i < rows.size(); ++i) spaces.push_back({rows.Text(i, 0), rows.Int(i, 1)});
        return spaces;
      });
}

Result<std::vector<HashRow>> PostgresCatalog::ListHashes(std::string_view method,
                                                         std::string_view after_sha256, int limit) {
  return pool_->Get<std::vector<HashRow>>([&](pg::Connection& c) -> Result<std::vector<HashRow>> {
    SLUICE_ASSIGN_OR_RETURN(pg::Rows rows,
                            c.Exec(R"sql(
          SELECT item_sha256, item_id, hash FROM content_hashes
          WHERE method = $1 AND item_sha256 COLLATE "C" > $2
          ORDER BY item_sha256 COLLATE "C" LIMIT $3)sql",
                                   pg::Params().Add(method).Add(after_sha256).Add(int64_t{limit})));
    std::vector<HashRow> out;
    for (int i = 0; i < rows.size(); ++i)
      out.push_back({.item_sha256 = rows.Text(i, 0),
                     .item_id = rows.Int(i, 1),
                     .method = std::string(method),
                     .hash = static_cast<uint64_t>(rows.Int(i, 2))});
    return out;
  });
}

Result<std::vector<ItemOfContent>> PostgresCatalog::ItemsWithContentIds(
    const std::vector<int64_t>& item_ids) {
  if (item_ids.empty()) return std::vector<ItemOfContent>{};
  std::string array = "{";
  for (size_t i = 0; i < item_ids.size(); ++i) StrAppend(array, i ? "," : "", item_ids[i]);
  array.push_back('}');
  return pool_->Get<std::vector<ItemOfContent>>(
      [&](pg::Connection& c) -> Result<std::vector<ItemOfContent>> {
        // kItemColumns name only items' columns: the subquery's are item_id and item_sha256.
        SLUICE_ASSIGN_OR_RETURN(pg::Rows rows,
                                c.Exec(StrCat("SELECT e.item_id, i.set_name, ", kItemColumns, R"sql(
          FROM (SELECT item_id, item_sha256 FROM embeddings WHERE item_id = ANY($1::bigint[])
                UNION SELECT item_id, item_sha256 FROM content_hashes
                WHERE item_id = ANY($1::bigint[])) e
          JOIN items i ON i.sha256 = e.item_sha256
          WHERE i.status = 'ok'
          ORDER BY i.set_name COLLATE "C", i.url COLLATE "C")sql"),
                                       pg::Params().Add(array)));
        std::vector<ItemOfContent> out;
        for (int i = 0; i < rows.size(); ++i)
          out.push_back(
              {.item_id = rows.Int(i, 0), .set = rows.Text(i, 1), .item = ItemFromRow(rows, i, 2)});
        return out;
      });
}

namespace {

// The rows of SELECT kStepColumns.
std::vector<StepRow> StepRowsOf(const pg::Rows& rows) {
  std::vector<StepRow> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    out.push_back({rows.Text(i, 0), rows.Text(i, 1), static_cast<int>(rows.Int(i, 2)),
                   rows.Text(i, 3), rows.Text(i, 4) == "t", rows.Text(i, 5), rows.Text(i, 6),
                   rows.Text(i, 7), rows.Text(i, 8), rows.Double(i, 9)});
  }
  return out;
}

constexpr const char* kStepColumns =
    "url, method, version, step_key, ok, output, artifacts, failure_cause, failure_details, "
    "millis";

}  // namespace

Result<std::vector<StepRow>> PostgresCatalog::ListSteps(std::string_view set) {
  return pool_->Get<std::vector<StepRow>>([&](pg::Connection& c) -> Result<std::vector<StepRow>> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("SELECT ", kStepColumns,
                      " FROM steps WHERE set_name = $1 ORDER BY url COLLATE \"C\", method "
                      "COLLATE \"C\""),
               pg::Params().Add(set)));
    return StepRowsOf(rows);
  });
}

Result<std::vector<StepRow>> PostgresCatalog::ListSteps(std::string_view set,
                                                        const std::vector<std::string>& urls) {
  if (urls.empty()) return std::vector<StepRow>{};
  return pool_->Get<std::vector<StepRow>>([&](pg::Connection& c) -> Result<std::vector<StepRow>> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("SELECT ", kStepColumns,
                      " FROM steps WHERE set_name = $1 AND url = ANY($2::text[]) ORDER BY url "
                      "COLLATE \"C\", method COLLATE \"C\""),
               pg::Params().Add(set).Add(pg::TextArray(urls))));
    return StepRowsOf(rows);
  });
}

Result<std::vector<std::string>> PostgresCatalog::LoadCheckpoints(std::string_view set) {
  return pool_->Get<std::vector<std::string>>(
      [&](pg::Connection& c) -> Result<std::vector<std::string>> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows, c.Exec("SELECT entry FROM checkpoints WHERE set_name = $1 ORDER BY seq",
                                  pg::Params().Add(set)));
        std::vector<std::string> lines;
        lines.reserve(static_cast<size_t>(rows.size()));
        for (int i = 0; i < rows.size(); ++i) lines.push_back(rows.Text(i, 0));
        return lines;
      });
}

Status PostgresCatalog::SaveCheckpoints(std::string_view set,
                                        const std::vector<std::string>& lines) {
  if (lines.empty()) return absl::OkStatus();
  std::string data;
  for (const std::string& line : lines) {
    pg::AppendCopyField(data, set, /*first=*/true);
    pg::AppendCopyField(data, line);
    data.push_back('\n');
  }
  return pool_->Run([&](pg::Connection& c) {
    // COPY is one statement: all lines or none, without an explicit transaction.
    return c.CopyIn("COPY checkpoints(set_name, entry) FROM STDIN", data);
  });
}

}  // namespace sluice::db
