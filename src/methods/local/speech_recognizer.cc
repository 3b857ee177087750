#include "methods/local/speech_recognizer.h"

#include <pocketsphinx.h>

#include <filesystem>

#include "common/strings.h"

namespace sluice::methods {
namespace {

constexpr char kDefaultModel[] = "/usr/share/pocketsphinx/model/en-us";
constexpr double kFrameSeconds = 0.01;  // PocketSphinx counts 100 frames a second

class Sphinx : public SpeechRecognizer {
 public:
  Sphinx(cmd_ln_t* config, ps_decoder_t* decoder) : config_(config), decoder_(decoder) {}
  ~Sphinx() override {
    ps_free(decoder_);
    cmd_ln_free_r(config_);
  }

  Result<std::vector<RecognizedWord>> Recognize(const int16_t* samples, size_t count) override {
    if (ps_start_utt(decoder_) < 0) return absl::InternalError("pocketsphinx: cannot start");
    if (ps_process_raw(decoder_, samples, count, FALSE, TRUE) < 0) {
      ps_end_utt(decoder_);
      return absl::InternalError("pocketsphinx: cannot process the audio");
    }
    ps_end_utt(decoder_);
    std::vector<RecognizedWord> words;
    for (ps_seg_t* seg = ps_seg_iter(decoder_); seg; seg = ps_seg_next(seg)) {
      std::string word = ps_seg_word(seg);
      // <s>, </s>, <sil>, [NOISE] and the like are not words.
      if (word.empty() || word[0] == '<' || word[0] == '[') continue;
      // Alternative pronunciations are named "word(2)".
      if (size_t paren = word.find('('); paren != std::string::npos) word.resize(paren);
      int start = 0, end = 0;
      ps_seg_frames(seg, &start, &end);
      words.push_back({word, start * kFrameSeconds, (end + 1) * kFrameSeconds});
    }
    return words;
  }

 private:
  cmd_ln_t* config_;
  ps_decoder_t* decoder_;
};

}  // namespace

Result<std::unique_ptr<SpeechRecognizer>> SpeechRecognizer::Create(std::string model_dir) {
  if (model_dir.empty()) model_dir = kDefaultModel;
  std::filesystem::path root(model_dir);
  std::filesystem::path hmm = root / "en-us", lm = root / "en-us.lm.bin",
                        dict = root / "cmudict-en-us.dict";
  std::error_code ec;
  for (const auto& needed : {hmm, lm, dict}) {
    if (!std::filesystem::exists(needed, ec)) {
      return Failure(absl::StatusCode::kFailedPrecondition, "no_speech_model",
                     StrCat("the speech model is missing: ", needed.string(),
                            " (install pocketsphinx-en-us)"));
    }
  }
  cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(),
                                 "-dict", dict.c_str(), "-logfn", "/dev/null", nullptr);
  if (!config) return absl::InternalError("pocketsphinx: bad configuration");
  ps_decoder_t* decoder = ps_init(config);
  if (!decoder) {
    cmd_ln_free_r(config);
    return Failure(absl::StatusCode::kFailedPrecondition, "no_speech_model",
                   StrCat("pocketsphinx cannot load the model in ", model_dir));
  }
  return std::unique_ptr<SpeechRecognizer>(std::make_unique<Sphinx>(config, decoder));
}

}  // namespace sluice::methods
