#include "pipeline/commit_spill.h"

#include <gtest/gtest.h>

#include "common/strings.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

db::StepRow Row(int i, std::string method = "llm.tags", std::string output = R"({"tags":["a"]})") {
  return {.url = StrCat("http://x/", i, "\t\"quoted\"\n"),
          .method = std::move(method),
          .version = 2,
          .step_key = StrCat("key", i),
          .ok = i % 7 != 0,
          .output_json = std::move(output),
          .artifacts_json = "{}",
          .failure_cause = i % 7 ? "" : "http_503",
          .failure_details = i % 7 ? "" : "busy\nretry",
          .millis = 1.25 * i};
}

// Every row read back, batch by batch, from the first again after a rewind.
std::vector<db::StepRow> ReadAll(CommitSpill& spill, int64_t* cached = nullptr) {
  std::vector<db::StepRow> all, steps;
  std::vector<db::CachedStep> cache;
  EXPECT_TRUE(spill.Rewind().ok());
  for (;;) {
    Result<bool> more = spill.Next(steps, cache);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    EXPECT_LE(steps.size() + cache.size(), CommitSpill::kBatchRows);
    all.insert(all.end(), steps.begin(), steps.end());
    if (cached) *cached += static_cast<int64_t>(cache.size());
  }
  return all;
}

TEST(CommitSpillTest, RowsComeBackExactlyInBatchesAndAgainAfterARewind) {
  sluice::testing::TempDir dir;
  auto spill = std::move(*CommitSpill::Create(dir.path()));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the file has no name";
  for (int i = 0; i < 5000; ++i) {
    db::StepRow row = Row(i);
    ASSERT_TRUE(
        spill->Append({row}, {{row.step_key, "aa", row.method, 2, row.output_json, "{}"}}).ok());
  }
  EXPECT_EQ(spill->rows(), 10000);
  for (int round = 0; round < 2; ++round) {
    int64_t cached = 0;
    std::vector<db::StepRow> rows = ReadAll(*spill, &cached);
    ASSERT_EQ(rows.size(), 5000u);
    EXPECT_EQ(cached, 5000);
    for (int i : {0, 1, 4999}) {
      db::StepRow want = Row(i);
      EXPECT_EQ(rows[i].url, want.url);
      EXPECT_EQ(rows[i].ok, want.ok);
      EXPECT_EQ(rows[i].output_json, want.output_json);
      EXPECT_EQ(rows[i].failure_details, want.failure_details);
      EXPECT_DOUBLE_EQ(rows[i].millis, want.millis);
      EXPECT_EQ(rows[i].version, 2);
    }
  }
  // Appending after reading goes on at the end.
  ASSERT_TRUE(spill->Append({Row(5000)}, {}).ok());
  EXPECT_EQ(ReadAll(*spill).size(), 5001u);
}

TEST(CommitSpillTest, AReplacingRowHidesTheEarlierRowOfItsStepOnly) {
  sluice::testing::TempDir dir;
  auto spill = std::move(*CommitSpill::Create(dir.path()));
  ASSERT_TRUE(spill->Append({Row(1, "fake.a"), Row(1, "fake.c", "1")}, {}).ok());
  ASSERT_TRUE(spill->Append({Row(2, "fake.c", "2")}, {}).ok());
  ASSERT_TRUE(spill->Append({Row(1, "fake.c", "again")}, {}, /*replacing=*/true).ok());
  std::vector<db::StepRow> rows = ReadAll(*spill);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].method, "fake.a");
  EXPECT_EQ(rows[1].output_json, "2");
  EXPECT_EQ(rows[2].output_json, "again");
}

TEST(CommitSpillTest, AMissingDirectoryIsAClearError) {
  sluice::testing::TempDir dir;
  Result<std::unique_ptr<CommitSpill>> spill = CommitSpill::Create(dir.path() / "absent");
  ASSERT_FALSE(spill.ok());
  EXPECT_NE(spill.status().message().find("commit spill"), std::string::npos) << spill.status();
}

}  // namespace
}  // namespace sluice::pipeline
