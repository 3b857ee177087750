// Index files copied to an object store and fetched back by a folder that lacks them.
#include "pipeline/index_copies.h"

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "runtime/runtime.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

TEST(IndexCopiesTest, PublishedFilesAreFetchedByAFolderThatLacksThem) {
  runtime::Runtime rt;
  storage::MemoryBlobStore store;
  testing::TempDir dir;
  std::filesystem::path writer = dir.path() / "writer", reader = dir.path() / "reader";
  std::filesystem::create_directories(writer);
  ASSERT_TRUE(WriteFileAtomically((writer / "a.faiss").string(), "first index").ok());
  ASSERT_TRUE(WriteFileAtomically((writer / "b.hashes.faiss").string(), "hashes").ok());
  ASSERT_TRUE(WriteFileAtomically((writer / ".a.faiss.tmp").string(), "a temporary").ok());
  ASSERT_TRUE(rt.Run(PublishIndexFiles(store, writer, {"a.faiss", "gone.faiss"})).ok());
  EXPECT_EQ(*rt.Run(store.Get(IndexCopyKey("a.faiss"), std::nullopt)), "first index");
  ASSERT_TRUE(rt.Run(PublishAllIndexFiles(store, writer)).ok());
  EXPECT_EQ(rt.Run(store.List("index/"))->size(), 2u) << "temporaries stay home";

  Result<int> fetched = rt.Run(FetchMissingIndexFiles(store, reader));
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(*fetched, 2);
  EXPECT_EQ(*ReadWholeFile((reader / "b.hashes.faiss").string()), "hashes");
  // A folder keeps the files it has; a newer copy of another one is fetched when it lacks it.
  ASSERT_TRUE(WriteFileAtomically((writer / "a.faiss").string(), "second index").ok());
  ASSERT_TRUE(rt.Run(PublishAllIndexFiles(store, writer)).ok());
  EXPECT_EQ(*rt.Run(FetchMissingIndexFiles(store, reader)), 0);
  EXPECT_EQ(*ReadWholeFile((reader / "a.faiss").string()), "first index");
  std::filesystem::remove(reader / "a.faiss");
  EXPECT_EQ(*rt.Run(FetchMissingIndexFiles(store, reader)), 1);
  EXPECT_EQ(*ReadWholeFile((reader / "a.faiss").string()), "second index");
  EXPECT_EQ(*rt.Run(FetchMissingIndexFiles(store, dir.path() / "another-reader")), 2);
}

}  // namespace
}  // namespace sluice::pipeline
