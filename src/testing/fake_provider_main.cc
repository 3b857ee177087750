// sluice-fake-provider: the test tree's fake model server as a process (benchmarks, manual
// runs). Prints its OpenAI base URL, serves until SIGINT/SIGTERM, then prints what it served
// and the CPU it used.
//
//   sluice-fake-provider [--port N] [--latency-ms MS] [--dimensions N]
//                        [--fail-percent P]      (that share of requests answer 500)
//                        [--burst-every-s S]     (every S seconds the next 20 answer 429)
//                        [--answer SCHEMA_NAME JSON]...   (the next chat for that schema)
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/fake_provider.h"
#include "testing/stop_signals.h"

int main(int argc, char** argv) {
  sluice::testing::FakeProviderOptions options;
  int port = 0;
  int burst_every = 0;
  std::vector<std::pair<std::string, std::string>> answers;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    long value = std::strtol(argv[i + 1], nullptr, 10);
    if (flag == "--answer" && i + 2 < argc) {
      answers.emplace_back(argv[i + 1], argv[i + 2]);
      ++i;
    } else if (flag == "--port") {
      port = static_cast<int>(value);
    } else if (flag == "--latency-ms") {
      options.latency = std::chrono::milliseconds(value);
    } else if (flag == "--dimensions") {
      options.dimensions = static_cast<int>(value);
    } else if (flag == "--fail-percent") {
      options.failure_percent = static_cast<int>(value);
    } else if (flag == "--burst-every-s") {
      burst_every = static_cast<int>(value);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--port N] [--latency-ms MS] [--dimensions N] [--fail-percent P] "
                   "[--burst-every-s S] [--answer SCHEMA_NAME JSON]...\n",
                   argv[0]);
      return 2;
    }
  }
  sigset_t signals = sluice::testing::BlockStopSignals();
  auto fake = sluice::testing::FakeProvider::Start(options, port);
  if (!fake.ok()) {
    std::fprintf(stderr, "sluice-fake-provider: %s\n",
                 std::string(fake.status().message()).c_str());
    return 1;
  }
  for (auto& [schema, answer] : answers) (*fake)->AnswerChatsWith(answer, schema);
  std::printf("%s\n", (*fake)->openai_url().c_str());
  std::fflush(stdout);
  std::atomic<bool> done{false};
  std::thread bursts([&] {
    for (int waited = 0; burst_every > 0 && !done; ++waited) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (waited % burst_every == burst_every - 1)
        (*fake)->Throttle(20, std::chrono::milliseconds(1000));
    }
  });
  sluice::testing::WaitForStopSignal(signals);
  done = true;
  bursts.join();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::fprintf(stderr, "sluice-fake-provider: %lld requests, peak %lld in flight, %.2f CPU-s\n",
               static_cast<long long>((*fake)->requests()),
               static_cast<long long>((*fake)->peak_concurrency()), cpu);
  return 0;
}
