#include "testing/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace sluice::testing {
namespace {

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

Subprocess::Subprocess(const std::vector<std::string>& argv,
                       const std::filesystem::path& capture_dir,
                       std::optional<std::filesystem::path> stdin_file,
                       const std::vector<std::string>& extra_env) {
  static std::atomic<int> counter{0};
  int n = counter.fetch_add(1);
  out_ = capture_dir / ("proc-" + std::to_string(n) + ".out");
  err_ = capture_dir / ("proc-" + std::to_string(n) + ".err");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string in_path = stdin_file ? stdin_file->string() : "/dev/null";
  posix_spawn_file_actions_addopen(&actions, 0, in_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) env.push_back(*e);
  for (const std::string& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed for " + argv[0]);
}

Subprocess::~Subprocess() {
  if (!waited_) {
    Kill(SIGKILL);
    Wait();
  }
}

void Subprocess::Kill(int signal) {
  if (!waited_) kill(pid_, signal);
}

ProcessResult Subprocess::Wait() {
  ProcessResult result;
  int status = 0;
  if (!waited_) {
    waitpid(pid_, &status, 0);
    waited_ = true;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  result.out = Slurp(out_);
  result.err = Slurp(err_);
  return result;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::filesystem::path& capture_dir,
                         std::optional<std::filesystem::path> stdin_file,
                         const std::vector<std::string>& extra_env) {
  Subprocess process(argv, capture_dir, std::move(stdin_file), extra_env);
  return process.Wait();
}

}  // namespace sluice::testing
