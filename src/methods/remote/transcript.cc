// audio.transcript: the soundtrack of a video or an audio file as text with timed segments.
//
// The audio comes from the item's one decoding pass, brought to 16 kHz mono 16-bit.
//   provider = "local": PocketSphinx on this machine, utterance by utterance as the pass goes
//     (utterances end at pauses), words timed.
//   provider = a configured OpenAI-compatible provider: the audio is cut into chunks of at most
//     chunk_s seconds at the quietest moment near each limit, each chunk overlapping the next by
//     overlap_s, written as WAV to unnamed temporary files during the pass (memory stays one
//     chunk), then sent to /audio/transcriptions (verbose_json) under the provider's limits;
//     segments are placed back on the item's timeline and each kept from the chunk that owns
//     its middle, so the overlap is transcribed twice but reported once.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/strings.h"
#include "media/resample.h"
#include "methods/local/speech_recognizer.h"
#include "methods/remote/remote_methods.h"

namespace sluice::methods::remote {
namespace {

constexpr int kRate = 16000;
constexpr int kHop = kRate / 100;  // 10 ms frames for loudness

double Seconds(int64_t samples) { return static_cast<double>(samples) / kRate; }
struct Segment {
  double start_s = 0, end_s = 0;
  std::string text;
  json::array words;  // local engine only
};

struct Chunk {
  std::FILE* file = nullptr;  // WAV bytes, unnamed (removed when closed)
  int64_t first = 0;          // first sample it holds
  double own_from_s = 0, own_to_s = 0;
};

class TranscriptSink : public media::StreamSink {
 public:
  TranscriptSink(std::unique_ptr<SpeechRecognizer> recognizer, const json::object& params)
      : recognizer_(std::move(recognizer)),
        quiet_(std::pow(10.0, params.at("quiet_db").to_number<double>() / 20.0) * 32768.0),
        pause_frames_(static_cast<int64_t>(params.at("pause_s").to_number<double>() * 100)),
        max_utterance_(
            static_cast<int64_t>(params.at("max_utterance_s").to_number<double>() * kRate)),
        chunk_(static_cast<int64_t>(params.at("chunk_s").to_number<double>() * kRate)),
        overlap_(static_cast<int64_t>(params.at("overlap_s").to_number<double>() * kRate)) {}

  ~TranscriptSink() override {
    for (Chunk& chunk : chunks_) {
      if (chunk.file) std::fclose(chunk.file);
    }
  }

  bool WantsVideo() const override { return false; }

  void OnStart(const media::StreamInfo& info) override {
    has_audio_ = info.has_audio;
    if (!info.has_audio) return;
    Result<std::unique_ptr<media::MonoResampler>> resampler =
        media::MonoResampler::Create(info.sample_rate, info.channels, kRate);
    if (!resampler.ok()) {
      failure_ = resampler.status();
      return;
    }
    resampler_ = std::move(*resampler);
  }

  void OnAudio(const media::AudioBlock& audio) override {
    if (!resampler_ || !failure_.ok()) return;
    resampler_->Push(audio.samples, audio.frames, pcm_);
    Consume(false);
  }

  void OnEnd(const media::PassStats& stats) override {
    duration_s_ = stats.duration_s;
    if (!resampler_ || !failure_.ok()) return;
    resampler_->Flush(pcm_);
    Consume(true);
  }

  const Status& failure() const { return failure_; }
  bool has_audio() const { return has_audio_; }
  double duration_s() const { return duration_s_; }
  std::vector<Segment>& segments() { return segments_; }
  std::vector<Chunk>& chunks() { return chunks_; }

 private:
  // pcm_ holds samples from sample number base_ on.
  double Rms(int64_t from) const {
    double sum = 0;
    const int16_t* p = pcm_.data() + (from - base_);
    for (int i = 0; i < kHop; ++i) sum += double(p[i]) * p[i];
    return std::sqrt(sum / kHop);
  }

  void Consume(bool end) {
    if (recognizer_) {
      Utterances(end);
    } else {
      Chunks(end);
    }
  }

  // Local: utterances end at a pause of pause_s (or at max_utterance_s, at the quietest frame);
  // leading quiet is dropped.
  void Utterances(bool end) {
    int64_t available = base_ + static_cast<int64_t>(pcm_.size());
    while (scanned_ + kHop <= available) {
      bool quiet = Rms(scanned_) < quiet_;
      scanned_ += kHop;
      if (!in_speech_) {
        if (quiet) {
          Drop(scanned_ - 20 * kHop);  // keep 0.2 s of lead-in: the recogniser wants it
          continue;
        }
        in_speech_ = true;
        quiet_run_ = 0;
        continue;
      }
      quiet_run_ = quiet ? quiet_run_ + 1 : 0;
      if (quiet_run_ >= pause_frames_) {
        Recognize(scanned_ - quiet_run_ * kHop / 2);
      } else if (scanned_ - base_ >= max_utterance_) {
        Recognize(QuietestFrame(std::max(base_, scanned_ - 5 * kRate), scanned_));
      }
    }
    if (end && in_speech_) Recognize(available);
  }

  // Remote: chunks of at most chunk_ samples, cut at the quietest frame of the last tenth.
  void Chunks(bool end) {
    int64_t available = base_ + static_cast<int64_t>(pcm_.size());
    while (available - chunk_from_ >= chunk_ + overlap_) {
      int64_t limit = chunk_from_ + chunk_;
      int64_t split = QuietestFrame(std::max(chunk_from_ + 1, limit - chunk_ / 10), limit);
      WriteChunk(split);
    }
    if (end && available > chunk_from_) WriteChunk(available);
  }

  int64_t QuietestFrame(int64_t from, int64_t to) const {
    int64_t best = to;
    double lowest = INFINITY;
    for (int64_t at = std::max(from, base_); at + kHop <= to; at += kHop) {
      double rms = Rms(at);
      if (rms < lowest) {
        lowest = rms;
        best = at;
      }
    }
    return best;
  }

  // Sends samples [base_, until) to the recogniser as one utterance.
  void Recognize(int64_t until) {
    until = std::min(until, base_ + static_cast<int64_t>(pcm_.size()));
    if (until > base_) {
      Result<std::vector<RecognizedWord>> words =
          recognizer_->Recognize(pcm_.data(), static_cast<size_t>(until - base_));
      if (!words.ok()) {
        failure_ = words.status();
      } else if (!words->empty()) {
        Segment segment{.start_s = Seconds(base_) + words->front().start_s,
                        .end_s = Seconds(base_) + words->back().end_s};
        for (const RecognizedWord& word : *words) {
          StrAppend(segment.text, segment.text.empty() ? "" : " ", word.word);
          segment.words.push_back(
              json::object{{"word", word.word},
                           {"start_s", RoundedSeconds(Seconds(base_) + word.start_s)},
                           {"end_s", RoundedSeconds(Seconds(base_) + word.end_s)}});
        }
        segments_.push_back(std::move(segment));
      }
    }
    Drop(until);
    in_speech_ = false;
    quiet_run_ = 0;
  }

  // Writes the chunk owning [chunk_from_, split) with overlap on both sides; keeps what the next
  // chunk needs.
  void WriteChunk(int64_t split) {
    int64_t available = base_ + static_cast<int64_t>(pcm_.size());
    int64_t first = std::max(base_, chunk_from_ - overlap_);
    int64_t last = std::min(available, split + overlap_);
    std::string wav =
        media::WavFile(pcm_.data() + (first - base_), static_cast<size_t>(last - first), kRate);
    Chunk chunk{.file = std::tmpfile(),
                .first = first,
                .own_from_s = Seconds(chunk_from_),
                .own_to_s = split >= available ? INFINITY : Seconds(split)};
    if (!chunk.file || std::fwrite(wav.data(), 1, wav.size(), chunk.file) != wav.size()) {
      if (chunk.file) std::fclose(chunk.file);
      failure_ = Failure(absl::StatusCode::kResourceExhausted, "scratch_full",
                         "cannot write the audio chunk to a temporary file");
      pcm_.clear();
      base_ = available;
      chunk_from_ = available;
      return;
    }
    chunks_.push_back(chunk);
    chunk_from_ = split;
    Drop(std::max(base_, split - overlap_));
  }

  // Forgets samples before `until`.
  void Drop(int64_t until) {
    if (until <= base_) return;
    size_t count = static_cast<size_t>(std::min<int64_t>(until - base_, pcm_.size()));
    pcm_.erase(pcm_.begin(), pcm_.begin() + static_cast<ptrdiff_t>(count));
    base_ += static_cast<int64_t>(count);
    scanned_ = std::max(scanned_, base_);
  }

  std::unique_ptr<SpeechRecognizer> recognizer_;  // null: chunks for a provider
  double quiet_;
  int64_t pause_frames_, max_utterance_, chunk_, overlap_;
  std::unique_ptr<media::MonoResampler> resampler_;
  std::vector<int16_t> pcm_;
  int64_t base_ = 0, scanned_ = 0, chunk_from_ = 0, quiet_run_ = 0;
  bool in_speech_ = false, has_audio_ = false;
  double duration_s_ = 0;
  Status failure_;
  std::vector<Segment> segments_;
  std::vector<Chunk> chunks_;
};

Result<std::string> ReadChunk(const Chunk& chunk) {
  std::rewind(chunk.file);
  std::string bytes;
  char buffer[1 << 16];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, chunk.file)) > 0) bytes.append(buffer, got);
  if (std::ferror(chunk.file))
    return absl::DataLossError("cannot read an audio chunk back from its temporary file");
  return bytes;
}

json::object TranscriptJson(std::vector<Segment>& segments, std::string engine, double duration) {
  json::array out;
  std::string text;
  int64_t words = 0;
  for (Segment& segment : segments) {
    std::string_view trimmed = Trim(segment.text);
    if (trimmed.empty()) continue;
    StrAppend(text, text.empty() ? "" : " ", trimmed);
    words += static_cast<int64_t>(Split(trimmed, " ").size());
    json::object doc{{"start_s", RoundedSeconds(segment.start_s)},
                     {"end_s", RoundedSeconds(segment.end_s)},
                     {"text", trimmed}};
    if (!segment.words.empty()) doc["words"] = std::move(segment.words);
    out.push_back(std::move(doc));
  }
  return json::object{{"engine", std::move(engine)},
                      {"text", text},
                      {"word_count", words},
                      {"duration_s", RoundedSeconds(duration)},
                      {"segments", std::move(out)}};
}

class TranscriptMethod : public AsyncStreamMethod {
 public:
  explicit TranscriptMethod(RemoteEnv env) : env_(env) {
    spec_ = {.name = "audio.transcript",
             .version = 1,
             .kinds = {MediaKind::kVideo, MediaKind::kAudio},
             .inputs = {"stream"},
             .description =
                 "The soundtrack as text with timed segments: on this machine "
                 "(PocketSphinx, provider \"local\") or through an OpenAI-compatible "
                 "/audio/transcriptions, long audio cut at pauses and stitched back",
             .params = {{"provider", "local"},
                        {"model", ""},
                        {"language", ""},
                        {"quiet_db", -40.0},
                        {"pause_s", 0.3},
                        {"max_utterance_s", 20.0},
                        {"chunk_s", 600.0},
                        {"overlap_s", 1.0}}};
  }

  const MethodSpec& spec() const override { return spec_; }

  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "quiet_db", -90, 0));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "pause_s", 0.05, 10));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_utterance_s", 1, 120));
    // 16 kHz mono WAV is 1.9 MB a minute: 600 s stays under the usual 25 MB upload limit.
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "chunk_s", 10, 780));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "overlap_s", 0, 10));
    std::string name(params.at("provider").as_string());
    if (name == "local") {
      params["model"] = "pocketsphinx-en-us";
      return absl::OkStatus();
    }
    const ProviderConfig* provider = env_.config ? env_.config->Find(name) : nullptr;
    if (!provider) {
      return absl::InvalidArgumentError(
          StrCat("provider '", name,
                 "' is not configured (see [providers] in the config file; \"local\" runs on this "
                 "machine)"));
    }
    if (params.at("model").as_string().empty()) params["model"] = provider->transcription_model;
    return absl::OkStatus();
  }

  Result<std::unique_ptr<media::StreamSink>> NewSink(const ItemContext&,
                                                     const json::object& params) const override {
    std::unique_ptr<SpeechRecognizer> recognizer;
    if (params.at("provider").as_string() == "local") {
      SLUICE_ASSIGN_OR_RETURN(recognizer, SpeechRecognizer::Create());
    }
    return std::unique_ptr<media::StreamSink>(
        std::make_unique<TranscriptSink>(std::move(recognizer), params));
  }

  asio::awaitable<Result<MethodOutput>> Finish(std::unique_ptr<media::StreamSink> base,
                                               media::PassStats, ItemContext item,
                                               json::object params) const override {
    auto& sink = static_cast<TranscriptSink&>(*base);
    SLUICE_CO_RETURN_IF_ERROR(sink.failure());
    if (!sink.has_audio()) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_audio",
                        "the item has no audio stream");
    }
    std::string provider_name(params.at("provider").as_string());
    std::string model(params.at("model").as_string());
    if (provider_name == "local") {
      co_return MethodOutput{
          .value = TranscriptJson(sink.segments(), "pocketsphinx-en-us", sink.duration_s()),
          .cost = {.bytes = item.size}};
    }
    if (!env_.providers) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_providers",
                        "remote methods need providers; none were set up for this command");
    }
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, env_.providers->Get(provider_name));
    std::vector<Segment> segments;
    Usage usage;
    for (const Chunk& chunk : sink.chunks()) {
      SLUICE_CO_ASSIGN_OR_RETURN(std::string wav, ReadChunk(chunk));
      SLUICE_CO_ASSIGN_OR_RETURN(
          TranscriptReply reply,
          co_await provider->Transcribe(std::move(wav), "audio/wav", model,
                                        std::string(params.at("language").as_string())));
      usage += reply.usage;
      double offset = Seconds(chunk.first);
      for (const TranscriptSegment& part : reply.segments) {
        double start = offset + part.start_s, end = offset + part.end_s;
        double middle = (start + end) / 2;
        if (middle < chunk.own_from_s || middle >= chunk.own_to_s) continue;  // the overlap
        segments.push_back({.start_s = start, .end_s = end, .text = part.text});
      }
    }
    json::object value =
        TranscriptJson(segments, StrCat(provider_name, ":", model), sink.duration_s());
    value["chunks"] = static_cast<int64_t>(sink.chunks().size());
    co_return MethodOutput{.value = std::move(value), .cost = usage};
  }

 private:
  RemoteEnv env_;
  MethodSpec spec_;
};

}  // namespace

std::unique_ptr<MethodBase> NewTranscriptMethod(const RemoteEnv& env) {
  return std::make_unique<TranscriptMethod>(env);
}

}  // namespace sluice::methods::remote
