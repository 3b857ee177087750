// Subprocess: runs a program (the real `sluice` binary in integration tests) with its output
// captured to files, so tests can wait for it, read what it printed, or kill -9 it mid-run.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

struct ProcessResult {
  // The exit status, or 128 + signal number when it was killed.
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Subprocess {
 public:
  // `extra_env` entries ("NAME=value") are added to this process's environment for the child.
  // Starts `argv` with stdout/stderr captured in `capture_dir` and stdin from `stdin_file`
  // (or /dev/null). Throws std::runtime_error when it cannot start.
  Subprocess(const std::vector<std::string>& argv, const std::filesystem::path& capture_dir,
             std::optional<std::filesystem::path> stdin_file = std::nullopt,
             const std::vector<std::string>& extra_env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  void Kill(int signal);
  ProcessResult Wait();

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
  bool waited_ = false;
};

// Runs `argv` to completion.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::filesystem::path& capture_dir,
                         std::optional<std::filesystem::path> stdin_file = std::nullopt,
                         const std::vector<std::string>& extra_env = {});

}  // namespace sluice::testing
