#include "common/file_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace sluice {
namespace {

TEST(FileIoTest, WritesEverything) {
  char name[] = "/tmp/sluice-file-io-XXXXXX";
  int fd = mkstemp(name);
  ASSERT_GE(fd, 0);
  std::string data(1 << 20, 'x');
  EXPECT_TRUE(WriteAll(fd, data, name).ok());
  EXPECT_EQ(lseek(fd, 0, SEEK_END), static_cast<off_t>(data.size()));
  close(fd);
  unlink(name);
}

TEST(FileIoTest, FullDiskIsResourceExhaustedAndNamesThePath) {
  int fd = open("/dev/full", O_WRONLY);
  ASSERT_GE(fd, 0);
  Status status = WriteAll(fd, "data", "/dev/full");
  close(fd);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_NE(status.message().find("/dev/full"), absl::string_view::npos) << status;
}

TEST(FileIoTest, BadDescriptorIsInternal) {
  EXPECT_EQ(WriteAll(-1, "data", "nowhere").code(), absl::StatusCode::kInternal);
}

TEST(FileIoTest, ReadsBackWhatWasWrittenAtomically) {
  std::string path = "/tmp/sluice-file-io-read-" + std::to_string(getpid());
  std::string data(300000, 'y');
  data[12345] = '\0';
  ASSERT_TRUE(WriteFileAtomically(path, data).ok());
  Result<std::string> read = ReadWholeFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, data);
  unlink(path.c_str());
  EXPECT_EQ(ReadWholeFile(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sluice
