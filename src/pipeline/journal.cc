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

Result<std::unique_ptr<Journal>> Journal::Open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return WithCause(
        absl::FailedPreconditionError(ErrnoStatus("opening the journal", path.string()).message()),
        "data_dir_unwritable");
  }
  std::unique_ptr<Journal> journal(new Journal(path, fd));
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  size_t start = 0, good_end = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string::npos) {
      ++journal->dropped_;  // torn: written without its newline when the process died
      break;
    }
    boost::system::error_code parse_error;
    boost::json::value entry =
        boost::json::parse(std::string_view(text).substr(start, newline - start), parse_error);
    if (!parse_error && entry.is_object()) {
      journal->replayed_.push_back(std::move(entry.as_object()));
    } else {
      ++journal->dropped_;
    }
    start = newline + 1;
    good_end = start;
  }
  // Appends continue after the last complete line.
  if (good_end < text.size() && ftruncate(fd, static_cast<off_t>(good_end)) != 0) {
    return ErrnoStatus("truncating the journal", path.string());
  }
  if (lseek(fd, 0, SEEK_END) < 0) return ErrnoStatus("seeking the journal", path.string());
  return journal;
}

Journal::~Journal() { close(fd_); }

Status Journal::Append(const boost::json::object& entry) {
  std::string line = boost::json::serialize(entry);
  line += '\n';
  SLUICE_RETURN_IF_ERROR(WriteAll(fd_, line, path_.string()));
  ++appended_;
  return absl::OkStatus();
}

Status Journal::Sync() {
  if (fdatasync(fd_) != 0) return ErrnoStatus("syncing the journal", path_.string());
  return absl::OkStatus();
}

}  // namespace sluice::pipeline
