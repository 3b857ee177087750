// PostgresCatalog's API keys (db/keys.h).
#include "common/strings.h"
#include "db/postgres/pg.h"
#include "db/postgres/postgres_catalog.h"

namespace sluice::db {
namespace {

constexpr const char* kKeyColumns =
    "name, prefix, hash, requests_per_minute, created_ms, revoked_ms";

ApiKey ReadKey(const pg::Rows& rows, int i) {
  return ApiKey{.name = rows.Text(i, 0),
                .prefix = rows.Text(i, 1),
                .hash = rows.Text(i, 2),
                .requests_per_minute = rows.Double(i, 3),
                .created_ms = rows.Int(i, 4),
                .revoked_ms = rows.Int(i, 5)};
}

}  // namespace

Status PostgresCatalog::AddKey(const ApiKey& key) {
  return pool_
      ->Get<bool>([&](pg::Connection& c) -> Result<bool> {
        SLUICE_ASSIGN_OR_RETURN(
            pg::Rows rows,
            c.Exec("INSERT INTO api_keys(name, prefix, hash, requests_per_minute, created_ms) "
                   "VALUES ($1, $2, $3, $4, (extract(epoch from clock_timestamp()) * 1000)"
                   "::bigint) ON CONFLICT DO NOTHING RETURNING name",
                   pg::Params()
                       .Add(key.name)
                       .Add(key.prefix)
                       .Add(key.hash)
                       .Add(key.requests_per_minute)));
        if (rows.empty())
          return Failure(absl::StatusCode::kAlreadyExists, "key_exists",
                         StrCat("a key named '", key.name, "' exists already"));
        return true;
      })
      .status();
}

Result<std::vector<ApiKey>> PostgresCatalog::ListKeys() {
  return pool_->Get<std::vector<ApiKey>>([&](pg::Connection& c) -> Result<std::vector<ApiKey>> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("SELECT ", kKeyColumns, " FROM api_keys ORDER BY name COLLATE \"C\"")));
    std::vector<ApiKey> keys;
    for (int i = 0; i < rows.size(); ++i) keys.push_back(ReadKey(rows, i));
    return keys;
  });
}

Result<ApiKey> PostgresCatalog::RevokeKey(std::string_view name) {
  return pool_->Get<ApiKey>([&](pg::Connection& c) -> Result<ApiKey> {
    SLUICE_ASSIGN_OR_RETURN(
        pg::Rows rows,
        c.Exec(StrCat("UPDATE api_keys SET revoked_ms = CASE WHEN revoked_ms = 0 THEN "
                      "(extract(epoch from clock_timestamp()) * 1000)::bigint ELSE revoked_ms END "
                      "WHERE name = $1 RETURNING ",
                      kKeyColumns),
               pg::Params().Add(name)));
    if (rows.empty()) return absl::NotFoundError(StrCat("no key named '", name, "'"));
    return ReadKey(rows, 0);
  });
}

Result<ApiKey> PostgresCatalog::FindKey(std::string_view hash) {
  return pool_->Get<ApiKey>([&](pg::Connection& c) -> Result<ApiKey> {
    SLUICE_ASSIGN_OR_RETURN(pg::Rows rows,
                            c.Exec(StrCat("SELECT ", kKeyColumns, " FROM api_keys WHERE hash = $1"),
                                   pg::Params().Add(hash)));
    if (rows.empty()) return absl::NotFoundError("no such key");
    return ReadKey(rows, 0);
  });
}

}  // namespace sluice::db
