// sluice-fault-proxy: the test tree's FaultProxy as a process, for the soak (bench/soak.sh).
// Prints its port, then alternates: `--calm-ms` without a fault, `--fault-ms` with one of
// `--faults` chosen at random, until SIGINT/SIGTERM; then prints how many connections it
// served, touched and reset.
//
//   sluice-fault-proxy --target HOST:PORT [--port N] [--calm-ms MS] [--fault-ms MS]
//                      [--faults latency,bandwidth,stall,reset,half_open,refuse,close_idle]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/strings.h"
#include "testing/fault_proxy.h"
#include "testing/stop_signals.h"

namespace {

using sluice::testing::Fault;

bool FaultNamed(const std::string& name, Fault& fault) {
  for (Fault f : {Fault::kLatency, Fault::kBandwidth, Fault::kStall, Fault::kReset,
                  Fault::kHalfOpen, Fault::kRefuse, Fault::kCloseIdle}) {
    if (name == sluice::testing::FaultName(f)) {
      fault = f;
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target;
  long calm_ms = 5000, fault_ms = 1500;
  std::vector<Fault> faults = {Fault::kLatency, Fault::kBandwidth, Fault::kStall, Fault::kReset};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--target") {
      target = value;
    } else if (flag == "--calm-ms") {
      calm_ms = std::stol(value);
    } else if (flag == "--fault-ms") {
      fault_ms = std::stol(value);
    } else if (flag == "--faults") {
      faults.clear();
      for (std::string_view piece : sluice::Split(value, ",")) {
        std::string name(piece);
        Fault fault;
        if (!FaultNamed(name, fault)) {
          std::fprintf(stderr, "sluice-fault-proxy: unknown fault '%s'\n", name.c_str());
          return 2;
        }
        faults.push_back(fault);
      }
    } else {
      target.clear();
      break;
    }
  }
  size_t colon = target.rfind(':');
  if (target.empty() || colon == std::string::npos || faults.empty()) {
    std::fprintf(stderr,
                 "usage: %s --target HOST:PORT [--calm-ms MS] [--fault-ms MS] "
                 "[--faults latency,bandwidth,stall,reset,half_open,refuse,close_idle]\n",
                 argv[0]);
    return 2;
  }
  sigset_t signals = sluice::testing::BlockStopSignals();
  auto proxy = sluice::testing::FaultProxy::Start(target.substr(0, colon),
                                                  std::stoi(target.substr(colon + 1)));
  if (!proxy.ok()) {
    std::fprintf(stderr, "sluice-fault-proxy: %s\n", std::string(proxy.status().message()).c_str());
    return 1;
  }
  std::printf("%d\n", (*proxy)->port());
  std::fflush(stdout);
  std::atomic<bool> done{false};
  std::thread flipper([&] {
    std::mt19937 random(std::random_device{}());
    auto nap = [&done](long ms) {
      for (long slept = 0; slept < ms && !done; slept += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    };
    while (!done) {
      nap(calm_ms);
      if (done) break;
      (*proxy)->Set({.fault = faults[random() % faults.size()],
                     .latency = std::chrono::milliseconds(200),
                     .bytes_per_second = 64 * 1024,
                     .reset_after = 4096});
      nap(fault_ms);
      (*proxy)->Set(Fault::kNone);
    }
  });
  sluice::testing::WaitForStopSignal(signals);
  done = true;
  flipper.join();
  std::fprintf(
      stderr, "sluice-fault-proxy: %lld connections, %lld touched by a fault, %lld reset\n",
      static_cast<long long>((*proxy)->connections()), static_cast<long long>((*proxy)->affected()),
      static_cast<long long>((*proxy)->resets()));
  return 0;
}
