// db_bench: the fleet database's two hot paths on a real Postgres (bench/db_bench.sh starts one).
//
//   db_bench queue URI JOBS BATCH POOL CLAIMERS...
//     JOBS no-op jobs; CLAIMERS threads each completing the BATCH jobs it holds and claiming
//     the next BATCH in one call (CompleteAndClaim: one statement), until the queue is empty,
//     through a pool of POOL connections (0: one connection per claimer). Prints
//     claims+completions per second per claimer count (the queue is refilled before each).
//   db_bench commit URI ROWS
//     One set of ROWS items and ROWS step rows committed through the catalog (COPY into staging,
//     then upserts, one transaction each) versus the same rows inserted one statement at a time
//     inside one transaction. Prints rows per second of each and the ratio.
//
// Each phase checks its outcome (every job done exactly once; every row present) before its
// rate counts.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "db/postgres/postgres_catalog.h"

namespace sluice {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Die(const Status& status) {
  std::fprintf(stderr, "db_bench: %s\n", std::string(status.message()).c_str());
  std::exit(1);
}

void Check(const Status& status) {
  if (!status.ok()) Die(status);
}

// Empties the queue and adds `jobs` no-op jobs across 100 sets, ranked as Submit would.
void FillQueue(db::PostgresCatalog& db, int jobs) {
  Check(db.pool().Run([&](db::pg::Connection& c) {
    SLUICE_RETURN_IF_ERROR(c.ExecScript("TRUNCATE jobs"));
    return c
        .Exec(R"sql(
      INSERT INTO jobs(token, set_name, state, priority, fair_rank, max_attempts, urls, run_at,
                       created_at)
      SELECT md5(i::text), 'set-' || (i % 100), 'queued', 0, i / 100, 3, 'http://x/' || i,
             sluice_now_ms(), sluice_now_ms()
      FROM generate_series(1, $1) AS i)sql",
              db::pg::Params().Add(int64_t{jobs}))
        .status();
  }));
  Check(db.pool().Run([](db::pg::Connection& c) { return c.ExecScript("ANALYZE jobs"); }));
}

int Queue(const std::string& uri, int jobs, int batch, int pool, const std::vector<int>& claimers) {
  std::printf(
      "| claimers | connections | batch | jobs | seconds | claims+completions/s |\n"
      "|---|---|---|---|---|---|\n");
  for (int n : claimers) {
    int connections = pool > 0 ? std::min(pool, n) : n;
    auto opened = db::PostgresCatalog::Open(uri, {.max_connections = connections});
    if (!opened.ok()) Die(opened.status());
    db::PostgresCatalog& db = **opened;
    FillQueue(db, jobs);
    std::atomic<int64_t> completed{0};
    std::atomic<bool> failed{false};
    auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([&, t] {
        std::string name = StrCat("bench-", t);
        std::vector<db::Lease> finished;
        while (!failed) {
          // The jobs of the last round completed and the next ones claimed in one call.
          Result<db::Claimed> next =
              db.CompleteAndClaim(finished, name, batch, std::chrono::milliseconds(60'000), {});
          if (!next.ok()) {
            std::fprintf(stderr, "claim: %s\n", std::string(next.status().message()).c_str());
            failed = true;
            return;
          }
          if (next->completed != static_cast<int>(finished.size())) {
            failed = true;
            return;
          }
          completed += next->completed;
          if (next->jobs.empty()) return;
          finished.clear();
          for (const db::Job& job : next->jobs) finished.push_back({job.id, job.epoch});
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    double seconds = Seconds(start);
    if (failed) return 1;
    // Every job done, each once.
    Result<std::vector<db::Job>> left = db.ListJobs(db::JobState::kQueued, 1);
    Result<std::vector<db::Job>> running = db.ListJobs(db::JobState::kRunning, 1);
    if (!left.ok() || !left->empty() || !running.ok() || !running->empty() || completed != jobs) {
      std::fprintf(stderr, "queue not drained exactly: %lld of %d completed\n",
                   static_cast<long long>(completed.load()), jobs);
      return 1;
    }
    std::printf("| %d | %d | %d | %d | %.2f | %.0f |\n", n, connections, batch, jobs, seconds,
                jobs / seconds);
    std::fflush(stdout);
  }
  return 0;
}

std::vector<db::ItemRecord> Items(int rows) {
  std::vector<db::ItemRecord> items;
  items.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::string url = StrCat("https://cdn.example.com/catalogue/item-", i, ".jpg");
    std::string sha = StrCat("sha-", i, "-0123456789abcdef0123456789abcdef0123456789abcdef");
    items.push_back({.url = url,
                     .status = db::ItemStatus::kOk,
                     .final_url = url,
                     .sha256 = sha,
                     .size = 40'000 + i,
                     .mime = "image/jpeg",
                     .kind = "image",
                     .store_key = "objects/" + sha,
                     .requests = 1});
  }
  return items;
}

std::vector<db::StepRow> Steps(const std::vector<db::ItemRecord>& items) {
  std::vector<db::StepRow> steps;
  steps.reserve(items.size());
  for (const db::ItemRecord& item : items) {
    steps.push_back({.url = item.url,
                     .method = "image.phash",
                     .version = 1,
                     .step_key = "key-" + item.sha256,
                     .ok = true,
                     .output_json = R"({"hash":"f0e1d2c3b4a59687","bits":64})",
                     .artifacts_json = "{}",
                     .millis = 1.25});
  }
  return steps;
}

int Commit(const std::string& uri, int rows) {
  auto opened = db::PostgresCatalog::Open(uri);
  if (!opened.ok()) Die(opened.status());
  db::PostgresCatalog& db = **opened;
  std::vector<db::ItemRecord> items = Items(rows);
  std::vector<db::StepRow> steps = Steps(items);
  Check(db.pool().Run([](db::pg::Connection& c) {
    return c.ExecScript("TRUNCATE steps, items, sets, checkpoints, step_cache");
  }));

  // The COPY path: the items' batch, then the set's one-transaction commit.
  auto start = Clock::now();
  Check(db.RecordItems("copy", items));
  double items_seconds = Seconds(start);
  Result<db::SetTotals> totals = db.CommitAnalysis("copy", {.steps = steps}, std::nullopt);
  double copy_seconds = Seconds(start);
  std::fprintf(stderr, "COPY path: items %.2f s, steps commit %.2f s\n", items_seconds,
               copy_seconds - items_seconds);
  if (!totals.ok()) Die(totals.status());
  if (totals->items != rows || static_cast<int>(db.ListSteps("copy")->size()) != rows) {
    std::fprintf(stderr, "COPY path lost rows\n");
    return 1;
  }

  // Row by row: the same rows, one INSERT each, in one transaction.
  start = Clock::now();
  Check(db.pool().Run([&](db::pg::Connection& c) {
    return c.Transaction([&]() -> Status {
      SLUICE_RETURN_IF_ERROR(c.ExecScript("INSERT INTO sets(name) VALUES ('rows')"));
      for (const db::ItemRecord& item : items) {
        SLUICE_RETURN_IF_ERROR(c.Exec(R"sql(
          INSERT INTO items(set_name, url, status, final_url, sha256, size, mime, kind, store_key,
                            requests)
          VALUES ('rows', $1, 'ok', $2, $3, $4, $5, $6, $7, $8))sql",
                                      db::pg::Params()
                                          .Add(item.url)
                                          .Add(item.final_url)
                                          .Add(item.sha256)
                                          .Add(item.size)
                                          .Add(item.mime)
                                          .Add(item.kind)
                                          .Add(item.store_key)
                                          .Add(int64_t{item.requests}))
                                   .status());
      }
      for (const db::StepRow& step : steps) {
        SLUICE_RETURN_IF_ERROR(c.Exec(R"sql(
          INSERT INTO steps(set_name, url, method, version, step_key, ok, output, artifacts,
                            millis)
          VALUES ('rows', $1, $2, $3, $4, true, $5, $6, $7))sql",
                                      db::pg::Params()
                                          .Add(step.url)
                                          .Add(step.method)
                                          .Add(int64_t{step.version})
                                          .Add(step.step_key)
                                          .Add(step.output_json)
                                          .Add(step.artifacts_json)
                                          .Add(step.millis))
                                   .status());
      }
      return absl::OkStatus();
    });
  }));
  double row_seconds = Seconds(start);
  if (static_cast<int>(db.ListSteps("rows")->size()) != rows) {
    std::fprintf(stderr, "row-by-row path lost rows\n");
    return 1;
  }
  // Both paths wrote `rows` items and `rows` steps.
  double copy_rate = 2.0 * rows / copy_seconds, row_rate = 2.0 * rows / row_seconds;
  std::printf("| path | items + steps | seconds | rows/s |\n|---|---|---|---|\n");
  std::printf("| COPY + upsert (RecordItems, CommitAnalysis) | %d + %d | %.2f | %.0f |\n", rows,
              rows, copy_seconds, copy_rate);
  std::printf("| row-by-row INSERT, one transaction | %d + %d | %.2f | %.0f |\n", rows, rows,
              row_seconds, row_rate);
  std::printf("| **ratio** | | | COPY / row-by-row **%.1f** |\n", copy_rate / row_rate);
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 6 && args[0] == "queue") {
    std::vector<int> claimers;
    for (size_t i = 5; i < args.size(); ++i) claimers.push_back(std::stoi(args[i]));
    return sluice::Queue(args[1], std::stoi(args[2]), std::stoi(args[3]), std::stoi(args[4]),
                         claimers);
  }
  if (args.size() == 3 && args[0] == "commit") return sluice::Commit(args[1], std::stoi(args[2]));
  std::fprintf(stderr,
               "usage: db_bench queue URI JOBS BATCH POOL CLAIMERS...\n"
               "       db_bench commit URI ROWS\n");
  return 2;
}
