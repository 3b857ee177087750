// File helpers shared by the fetcher's scratch files, the local object store and the readers of
// whole files (models, cassettes).
//
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// Writes all of `data` to `fd`, retrying short writes and EINTR. On failure the status names
// `path` and errno's text: ResourceExhausted for a full disk or quota (ENOSPC, EDQUOT), NotFound
// for ENOENT, Internal otherwise.
Status WriteAll(int fd, std::string_view data, std::string_view path);

// Replaces the file at `path` with `data`: written to a sibling temporary file, then renamed
// over it, so readers see the old or the new content, never a part. Errors as WriteAll.
Status WriteFileAtomically(const std::string& path, std::string_view data);

// The whole content of the file at `path`. Errors as WriteAll's (NotFound for a missing file).
Result<std::string> ReadWholeFile(const std::string& path);

// The Status for the current errno after `what` (e.g. "opening") failed on `path`, coded as
// WriteAll's are.
Status ErrnoStatus(std::string_view what, std::string_view path);

}  // namespace sluice
