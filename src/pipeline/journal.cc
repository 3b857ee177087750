#include "pipeline/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "common/file_io.h"
#include "common/strings.h"

namespace sluice::pipeline {
namespace {

class FileJournal : public Journal {
 public:
  FileJournal(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~FileJournal() override { close(fd_); }

  Status Load() {
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    std::string text = content.str();
    size_t complete = text.rfind('\n');
    complete = complete == std::string::npos ? 0 : complete + 1;
    if (complete < text.size()) ++dropped_;  // torn: written without its newline at a crash
    std::vector<std::string> lines;
    for (std::string_view line : Split(std::string_view(text).substr(0, complete), "\n"))
      if (!line.empty()) lines.emplace_back(line);
    Replay(lines);
    // Appends continue after the last complete line.
    if (complete < text.size() && ftruncate(fd_, static_cast<off_t>(complete)) != 0)
      return ErrnoStatus("truncating the journal", path_.string());
    if (lseek(fd_, 0, SEEK_END) < 0) return ErrnoStatus("seeking the journal", path_.string());
    return absl::OkStatus();
  }

  Status AppendLines(std::span<const std::string> lines) override {
    size_t size = 0;
    for (const std::string& line : lines) size += line.size() + 1;
    std::string text;
    text.reserve(size);
    for (const std::string& line : lines) {
      text += line;
      text += '\n';
    }
    SLUICE_RETURN_IF_ERROR(WriteAll(fd_, text, path_.string()));
    appended_ += static_cast<int64_t>(lines.size());
    return absl::OkStatus();
  }

  Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoStatus("syncing the journal", path_.string());
    return absl::OkStatus();
  }

  // Each line is in the file (it survives the process) once appended; fdatasync, which only a
  // machine crash needs, is batched.
  int64_t sync_every() const override { return 1000; }

  void Discard() override {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

 private:
  std::filesystem::path path_;
  int fd_;
};

class DatabaseJournal : public Journal {
 public:
  DatabaseJournal(db::Catalog& catalog, std::string set)
      : catalog_(catalog), set_(std::move(set)) {}

  Status Load() {
    SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> lines, catalog_.LoadCheckpoints(set_));
    Replay(lines);
    return absl::OkStatus();
  }

  Status AppendLines(std::span<const std::string> lines) override {
    std::lock_guard lock(mu_);
    pending_.insert(pending_.end(), lines.begin(), lines.end());
    appended_ += static_cast<int64_t>(lines.size());
    return absl::OkStatus();
  }

  Status Sync() override {
    // One writer at a time, carrying every line appended while the previous write ran.
    std::lock_guard writing(write_mu_);
    std::vector<std::string> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(pending_);
    }
    if (batch.empty()) return absl::OkStatus();
    Status saved = catalog_.SaveCheckpoints(set_, batch);
    if (!saved.ok()) {
      std::lock_guard lock(mu_);
      pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()),
                      std::make_move_iterator(batch.end()));
    }
    return saved;
  }

  // Every finished step is written before the item moves on: a worker that dies loses only
  // the steps it was running.
  int64_t sync_every() const override { return 1; }

  // The set's commit removes its checkpoints in the same transaction.
  void Discard() override {}

 private:
  db::Catalog& catalog_;
  std::string set_;
  std::mutex mu_;
  std::mutex write_mu_;
  std::vector<std::string> pending_;
};

}  // namespace

Status Journal::Append(const boost::json::object& entry) {
  std::string line = boost::json::serialize(entry);
  return AppendLines({&line, 1});
}

void Journal::Replay(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    boost::system::error_code parse_error;
    boost::json::value entry = boost::json::parse(line, parse_error);
    if (!parse_error && entry.is_object()) {
      replayed_.push_back(std::move(entry.as_object()));
    } else {
      ++dropped_;
    }
  }
}

Result<std::unique_ptr<Journal>> Journal::OpenFile(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return WithCause(
        absl::FailedPreconditionError(ErrnoStatus("opening the journal", path.string()).message()),
        "data_dir_unwritable");
  }
  auto journal = std::make_unique<FileJournal>(path, fd);
  SLUICE_RETURN_IF_ERROR(journal->Load());
  return std::unique_ptr<Journal>(std::move(journal));
}

Result<std::unique_ptr<Journal>> Journal::OpenInDatabase(db::Catalog& catalog, std::string set) {
  auto journal = std::make_unique<DatabaseJournal>(catalog, std::move(set));
  SLUICE_RETURN_IF_ERROR(journal->Load());
  return std::unique_ptr<Journal>(std::move(journal));
}

}  // namespace sluice::pipeline
