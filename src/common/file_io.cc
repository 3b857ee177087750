#include "common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/strings.h"

namespace sluice {

Status ErrnoStatus(std::string_view what, std::string_view path) {
  int e = errno;
  absl::StatusCode code = e == ENOENT                    ? absl::StatusCode::kNotFound
                          : (e == ENOSPC || e == EDQUOT) ? absl::StatusCode::kResourceExhausted
                                                         : absl::StatusCode::kInternal;
  return absl::Status(code, StrCat(what, " ", path, ": ", std::strerror(e)));
}

Status WriteAll(int fd, std::string_view data, std::string_view path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("writing", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace sluice

namespace sluice {

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening", path);
  std::string content;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = ErrnoStatus("reading", path);
      ::close(fd);
      return failed;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  std::string temporary = StrCat(path, ".tmp.", getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("creating", temporary);
  Status written = WriteAll(fd, data, temporary);
  ::close(fd);
  if (written.ok() && std::rename(temporary.c_str(), path.c_str()) != 0)
    written = ErrnoStatus("renaming", temporary);
  if (!written.ok()) ::unlink(temporary.c_str());
  return written;
}

}  // namespace sluice
