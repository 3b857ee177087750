// Helpers for bench/fetch_bench.sh:
//   bench_tool make-files DIR COUNT MIN_BYTES MAX_BYTES   JPEG-looking random files f00000.jpg…
//   bench_tool drop-server SIZE_BYTES DROPS               serves /big.jpg (Range honoured) on
//       127.0.0.1, cutting the connection mid-body on the first DROPS responses; prints the
//       port, then serves until stdin closes; GET /stats answers the body bytes sent so far.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "http/loopback_server.h"
#include "testing/origin.h"

namespace {

int MakeFiles(const std::filesystem::path& dir, int count, size_t min_bytes, size_t max_bytes) {
  std::filesystem::create_directories(dir);
  std::mt19937_64 random(42);
  std::uniform_int_distribution<size_t> size(min_bytes, max_bytes);
  for (int i = 0; i < count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "f%05d.jpg", i);
    std::ofstream(dir / name, std::ios::binary)
        << sluice::testing::ScriptedOrigin::MediaBody(size(random), i);
  }
  return 0;
}

int DropServer(size_t size, int drops) {
  const std::string body = sluice::testing::ScriptedOrigin::MediaBody(size, 7);
  int served = 0;
  sluice::http::LoopbackServer* self = nullptr;
  auto handler = [&](const sluice::http::HttpRequest& request) {
    if (request.path == "/stats") {
      return sluice::http::HttpReply{.body = std::to_string(self->body_bytes_sent())};
    }
    sluice::http::HttpReply reply =
        sluice::http::ServeBytes(request, body, "image/jpeg", "\"big-v1\"");
    if (served < drops) {
      // Cut each of the first responses a quarter of the way through what it would send.
      reply.drop_after = reply.body.size() / 4;
    }
    ++served;
    return reply;
  };
  auto server = sluice::http::LoopbackServer::Start(handler);
  if (!server.ok()) {
    std::fprintf(stderr, "bench_tool: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  self = server->get();
  std::printf("%d\n", (*server)->port());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "make-files" && argc == 6) {
    return MakeFiles(argv[2], std::stoi(argv[3]), std::stoul(argv[4]), std::stoul(argv[5]));
  }
  if (command == "drop-server" && argc == 4)
    return DropServer(std::stoul(argv[2]), std::stoi(argv[3]));
  std::fprintf(stderr, "usage: bench_tool make-files DIR COUNT MIN MAX | drop-server SIZE DROPS\n");
  return 2;
}
