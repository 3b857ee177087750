// Speech to text on this machine: CMU PocketSphinx with Debian's US English model
// (pocketsphinx-en-us), fed 16 kHz mono 16-bit audio one utterance at a time.
//
// Kept apart from every OpenCV header: PocketSphinx's and OpenCV's headers both declare a
// global `int64`, differently. Not thread-safe: one recogniser per sink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::methods {

struct RecognizedWord {
  std::string word;
  double start_s = 0;  // from the start of the utterance
  double end_s = 0;
};

class SpeechRecognizer {
 public:
  // The recogniser over the model in `model_dir` (default: Debian's
  // /usr/share/pocketsphinx/model/en-us). FailedPrecondition (cause "no_speech_model") when the
  // model files are not installed.
  static Result<std::unique_ptr<SpeechRecognizer>> Create(std::string model_dir = "");
  virtual ~SpeechRecognizer() = default;
  // The words of one utterance (16 kHz mono samples), in order; fillers and silences left out.
  virtual Result<std::vector<RecognizedWord>> Recognize(const int16_t* samples, size_t count) = 0;
};

}  // namespace sluice::methods
