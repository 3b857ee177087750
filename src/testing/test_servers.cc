#include "testing/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "common/strings.h"

namespace sluice::testing {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<NodeServer>> NodeServer::Start(
    const std::string& script,
    const std::function<std::vector<std::string>(int, const std::filesystem::path&)>& args) {
  std::filesystem::path path =
      std::filesystem::path(SLUICE_TEST_SERVERS_DIR) / "node_modules" / script;
  if (!std::filesystem::exists(path)) {
    return absl::FailedPreconditionError(StrCat(
        path.string(), " is not installed; run scripts/test-servers.sh (scripts/test.sh does)"));
  }
  std::unique_ptr<NodeServer> server(new NodeServer());
  server->port_ = FreePort();
  std::vector<std::string> argv = {"/usr/bin/env", "node", path.string()};
  for (std::string& arg : args(server->port_, server->dir_.path())) argv.push_back(std::move(arg));
  server->process_ = std::make_unique<Subprocess>(argv, server->dir_.path());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!Accepts(server->port_)) {
    if (std::chrono::steady_clock::now() > deadline)
      return absl::UnavailableError(StrCat(script, " did not listen on port ", server->port_));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return server;
}

NodeServer::~NodeServer() {
  if (process_) {
    process_->Kill(SIGTERM);
    process_->Wait();
  }
}

Result<std::unique_ptr<S3rver>> S3rver::Start(const std::string& bucket) {
  std::unique_ptr<S3rver> s3(new S3rver());
  s3->bucket_ = bucket;
  SLUICE_ASSIGN_OR_RETURN(
      s3->server_,
      NodeServer::Start("s3rver/bin/s3rver.js", [&](int port, const std::filesystem::path& dir) {
        std::filesystem::create_directories(dir / "data");
        return std::vector<std::string>{
            "-d",       (dir / "data").string(), "-a",  "127.0.0.1", "-p", std::to_string(port),
            "--silent", "--configure-bucket",    bucket};
      }));
  s3->port_ = s3->server_->port();
  return s3;
}

S3rver::~S3rver() = default;

Result<std::unique_ptr<Sqslite>> Sqslite::Start() {
  std::unique_ptr<Sqslite> sqs(new Sqslite());
  SLUICE_ASSIGN_OR_RETURN(
      sqs->server_,
      NodeServer::Start("sqslite/bin/cli.js", [](int port, const std::filesystem::path&) {
        return std::vector<std::string>{"--host", "127.0.0.1", "--port", std::to_string(port)};
      }));
  return sqs;
}

}  // namespace sluice::testing
