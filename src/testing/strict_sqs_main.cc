// sluice-strict-sqs: the test tree's StrictSqs as a process, for the soak (bench/soak.sh), where
// sqslite would lose every message whose receive answer a fault cut: it never makes a received
// message visible again. Prints its port; the queue's URL is http://127.0.0.1:PORT/queue/NAME
// (CreateQueue answers it too). On SIGINT/SIGTERM prints what it saw and exits.
//
//   sluice-strict-sqs [--queue NAME] [--visibility-seconds N]
#include <chrono>
#include <cstdio>
#include <string>

#include "common/strings.h"
#include "testing/stop_signals.h"
#include "testing/strict_sqs.h"

int main(int argc, char** argv) {
  std::string queue = "jobs";
  int visibility_seconds = 30;
  bool usage = false;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      usage = true;
    } else if (flag == "--queue") {
      queue = argv[i + 1];
    } else if (flag == "--visibility-seconds") {
      usage = !sluice::ParseInt(argv[i + 1], visibility_seconds) || visibility_seconds < 0;
    } else {
      usage = true;
    }
    if (usage) break;
  }
  if (usage || queue.empty()) {
    std::fprintf(stderr, "usage: %s [--queue NAME] [--visibility-seconds N]\n", argv[0]);
    return 2;
  }
  sigset_t signals = sluice::testing::BlockStopSignals();
  sluice::testing::StrictSqs sqs(std::chrono::seconds(visibility_seconds), queue);
  std::printf("%d\n", sqs.port());
  std::fflush(stdout);
  sluice::testing::WaitForStopSignal(signals);
  std::fprintf(stderr,
               "sluice-strict-sqs: %d receives (%d of a message received before), %d messages "
               "left, %d deletes naming an older receipt handle\n",
               sqs.receives(), sqs.redeliveries(), sqs.messages_left(), sqs.stale_deletes());
  return 0;
}
