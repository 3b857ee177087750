// SqliteCatalog's API keys (db/keys.h).
#include "common/strings.h"
#include "db/sqlite/sqlite_catalog.h"
#include "db/sqlite/statement.h"

namespace sluice::db {
namespace {

constexpr const char* kKeyColumns =
    "name, prefix, hash, requests_per_minute, created_ms, revoked_ms";

ApiKey ReadKey(Statement& row) {
  return ApiKey{.name = row.Text(0),
                .prefix = row.Text(1),
                .hash = row.Text(2),
                .requests_per_minute = sqlite3_column_double(row.get(), 3),
                .created_ms = row.Int(4),
                .revoked_ms = row.Int(5)};
}

}  // namespace

Status SqliteCatalog::AddKey(const ApiKey& key) {
  std::lock_guard lock(mu_);
  Statement insert(statements_, R"sql(
    INSERT INTO api_keys(name, prefix, hash, requests_per_minute, created_ms)
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING RETURNING name)sql");
  if (!insert.ok()) return Error("preparing the key insert");
  insert.Bind(1, key.name);
  insert.Bind(2, key.prefix);
  insert.Bind(3, key.hash);
  sqlite3_bind_double(insert.get(), 4, key.requests_per_minute);
  insert.Bind(5, NowMillis());
  int step = sqlite3_step(insert.get());
  if (step == SQLITE_DONE)
    return Failure(absl::StatusCode::kAlreadyExists, "key_exists",
                   StrCat("a key named '", key.name, "' exists already"));
  if (step != SQLITE_ROW) return Error("storing the key");
  return absl::OkStatus();
}

Result<std::vector<ApiKey>> SqliteCatalog::ListKeys() {
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   StrCat("SELECT ", kKeyColumns, " FROM api_keys ORDER BY name").c_str());
  if (!select.ok()) return Error("preparing ListKeys");
  std::vector<ApiKey> keys;
  while (select.Next()) keys.push_back(ReadKey(select));
  if (!select.finished()) return Error("reading rows");
  return keys;
}

Result<ApiKey> SqliteCatalog::RevokeKey(std::string_view name) {
  std::lock_guard lock(mu_);
  Statement update(statements_,
                   StrCat("UPDATE api_keys SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?2 "
                          "ELSE revoked_ms END WHERE name = ?1 RETURNING ",
                          kKeyColumns)
                       .c_str());
  if (!update.ok()) return Error("preparing RevokeKey");
  update.Bind(1, name);
  update.Bind(2, NowMillis());
  if (sqlite3_step(update.get()) != SQLITE_ROW)
    return absl::NotFoundError(StrCat("no key named '", name, "'"));
  return ReadKey(update);
}

Result<ApiKey> SqliteCatalog::FindKey(std::string_view hash) {
  std::lock_guard lock(mu_);
  Statement select(statements_,
                   StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE hash = ?1").c_str());
  if (!select.ok()) return Error("preparing FindKey");
  select.Bind(1, hash);
  if (sqlite3_step(select.get()) != SQLITE_ROW) return absl::NotFoundError("no such key");
  return ReadKey(select);
}

}  // namespace sluice::db
