// Internal to db/sqlite: prepared statements (kept for reuse or finalised on scope exit), and the
// clock rows use.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::db {

inline int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The prepared statements of one connection, kept for reuse by SQL text: preparing costs more
// than running most of sluice's queries. Used under the owner's lock only; Clear() before the
// connection closes.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { Clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // A statement for `sql` ready to bind (a kept one, or prepared now); sets `rc`.
  sqlite3_stmt* Take(const char* sql, int& rc) {
    auto it = free_.find(sql);
    if (it != free_.end() && !it->second.empty()) {
      sqlite3_stmt* stmt = it->second.back();
      it->second.pop_back();
      rc = SQLITE_OK;
      return stmt;
    }
    sqlite3_stmt* stmt = nullptr;
    rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    return stmt;
  }
  // Back for the next Take of the same SQL: reset, bindings cleared. Past kMaxTexts different
  // texts (SQL built with values in it) a statement is finalised instead.
  void Return(sqlite3_stmt* stmt) {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    const char* sql = sqlite3_sql(stmt);
    if (free_.size() >= kMaxTexts && !free_.contains(sql)) {
      sqlite3_finalize(stmt);
      return;
    }
    free_[sql].push_back(stmt);
  }
  void Clear() {
    for (auto& [sql, stmts] : free_)
      for (sqlite3_stmt* stmt : stmts) sqlite3_finalize(stmt);
    free_.clear();
  }

 private:
  static constexpr size_t kMaxTexts = 256;
  sqlite3* db_;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> free_;
};

// A prepared statement: finalised on scope exit, or, taken from a cache, given back to it.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  Statement(StatementCache& cache, const char* sql) : cache_(&cache) {
    stmt_ = cache.Take(sql, rc_);
  }
  ~Statement() {
    if (cache_ && stmt_ && rc_ == SQLITE_OK)
      cache_->Return(stmt_);
    else
      sqlite3_finalize(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  // Steps to the next row: true while there is one. Once it returns false, finished() says
  // whether the statement ran to its end rather than failing (a damaged file, a full disk): a
  // loop over rows checks it, or a failure would pass for fewer rows.
  bool Next() {
    step_rc_ = sqlite3_step(stmt_);
    return step_rc_ == SQLITE_ROW;
  }
  bool finished() const { return step_rc_ == SQLITE_DONE; }
  void Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void BindOrNull(int i, std::string_view text) {
    if (text.empty())
      sqlite3_bind_null(stmt_, i);
    else
      Bind(i, text);
  }
  void Bind(int i, int64_t value) { sqlite3_bind_int64(stmt_, i, value); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? reinterpret_cast<const char*>(text) : "";
  }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }

 private:
  StatementCache* cache_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  int step_rc_ = SQLITE_OK;
};

}  // namespace sluice::db
