#include "testing/s3rver.h"

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

Result<std::unique_ptr<S3rver>> S3rver::Start(const std::string& bucket) {
  std::filesystem::path script =
      std::filesystem::path(SLUICE_TEST_SERVERS_DIR) / "node_modules/s3rver/bin/s3rver.js";
  if (!std::filesystem::exists(script)) {
    return absl::FailedPreconditionError(
        StrCat("s3rver is not installed at ", script.string(),
               "; run scripts/test-servers.sh (scripts/test.sh does)"));
  }
  std::unique_ptr<S3rver> server(new S3rver());
  server->bucket_ = bucket;
  server->port_ = FreePort();
  std::filesystem::create_directories(server->dir_.path() / "data");
  server->process_ = std::make_unique<Subprocess>(
      std::vector<std::string>{"/usr/bin/env", "node", script.string(), "-d",
                               (server->dir_.path() / "data").string(), "-a", "127.0.0.1", "-p",
                               std::to_string(server->port_), "--silent", "--configure-bucket",
                               bucket},
      server->dir_.path());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!Accepts(server->port_)) {
    if (std::chrono::steady_clock::now() > deadline)
      return absl::UnavailableError(StrCat("s3rver did not listen on port ", server->port_));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return server;
}

S3rver::~S3rver() {
  if (process_) {
    process_->Kill(SIGTERM);
    process_->Wait();
  }
}

}  // namespace sluice::testing
