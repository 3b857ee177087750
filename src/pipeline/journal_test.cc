#include "pipeline/journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "db/sqlite/sqlite_catalog.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

TEST(JournalTest, AppendsAreReplayedInOrder) {
  sluice::testing::TempDir dir;
  std::filesystem::path path = dir.path() / "j" / "set.jsonl";
  {
    auto journal = std::move(*Journal::OpenFile(path));
    EXPECT_TRUE(journal->replayed().empty());
    ASSERT_TRUE(journal->Append({{"item", "a"}, {"n", 1}}).ok());
    ASSERT_TRUE(journal->Append({{"item", "b"}, {"n", 2}}).ok());
    ASSERT_TRUE(journal->Sync().ok());
    EXPECT_EQ(journal->appended(), 2);
  }
  auto reopened = std::move(*Journal::OpenFile(path));
  ASSERT_EQ(reopened->replayed().size(), 2u);
  EXPECT_EQ(reopened->replayed()[1].at("n").as_int64(), 2);
  EXPECT_EQ(reopened->dropped_lines(), 0);
}

TEST(JournalTest, TornLastLineIsDroppedAndAppendsContinueCleanly) {
  sluice::testing::TempDir dir;
  std::filesystem::path path = dir.path() / "set.jsonl";
  std::ofstream(path) << "{\"item\":\"a\",\"n\":1}\n{\"item\":\"b\",\"n\":";  // died mid-write
  {
    auto journal = std::move(*Journal::OpenFile(path));
    ASSERT_EQ(journal->replayed().size(), 1u);
    EXPECT_EQ(journal->dropped_lines(), 1);
    ASSERT_TRUE(journal->Append({{"item", "c"}, {"n", 3}}).ok());
  }
  auto reopened = std::move(*Journal::OpenFile(path));
  ASSERT_EQ(reopened->replayed().size(), 2u);
  EXPECT_EQ(reopened->replayed()[1].at("item").as_string(), "c");
  EXPECT_EQ(reopened->dropped_lines(), 0);
}

TEST(JournalTest, UnwritableLocationIsAClearError) {
  Result<std::unique_ptr<Journal>> journal = Journal::OpenFile("/proc/sluice/journal.jsonl");
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(CauseOf(journal.status()), "data_dir_unwritable");
}

TEST(JournalTest, DatabaseJournalKeepsWhatWasSyncedUntilTheCommit) {
  sluice::testing::TempDir dir;
  auto catalog = std::move(*db::SqliteCatalog::Open(dir.path() / "sluice.db"));
  {
    auto journal = std::move(*Journal::OpenInDatabase(*catalog, "s"));
    EXPECT_EQ(journal->sync_every(), 1);
    ASSERT_TRUE(journal->Append({{"item", "a"}, {"n", 1}}).ok());
    ASSERT_TRUE(journal->Append({{"item", "b"}, {"n", 2}}).ok());
    ASSERT_TRUE(journal->Sync().ok());
    ASSERT_TRUE(journal->Append({{"item", "c"}, {"n", 3}}).ok());  // never synced: lost
  }
  auto other_worker = std::move(*Journal::OpenInDatabase(*catalog, "s"));
  ASSERT_EQ(other_worker->replayed().size(), 2u);
  EXPECT_EQ(other_worker->replayed()[1].at("item").as_string(), "b");
  EXPECT_TRUE((*Journal::OpenInDatabase(*catalog, "other"))->replayed().empty());
  // The set's commit removes its checkpoints with everything else.
  ASSERT_TRUE(catalog->RecordItems("s", {}).ok());
  ASSERT_TRUE(catalog->CommitAnalysis("s", {}, std::nullopt).ok());
  EXPECT_TRUE(catalog->LoadCheckpoints("s")->empty());
}

}  // namespace
}  // namespace sluice::pipeline
