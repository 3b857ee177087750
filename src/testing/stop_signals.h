// For the test tree's servers run as processes (sluice-fake-provider, sluice-fault-proxy): the
// main thread blocks SIGINT and SIGTERM before starting its server's threads, which inherit the
// mask, then waits for one and shuts down in order.
#pragma once

#include <signal.h>

namespace sluice::testing {

// Blocks SIGINT and SIGTERM in the calling thread and the threads it starts afterwards.
inline sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits for one of `signals`; returns its number.
inline int WaitForStopSignal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

}  // namespace sluice::testing
