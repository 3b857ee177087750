#include "media/resample.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
}

#include "common/strings.h"

namespace sluice::media {
namespace {

class SwrMono : public MonoResampler {
 public:
  SwrMono(SwrContext* context, int in_rate, int out_rate)
      : context_(context), in_rate_(in_rate), out_rate_(out_rate) {}
  ~SwrMono() override { swr_free(&context_); }

  void Push(const float* samples, int frames, std::vector<int16_t>& out) override {
    Convert(reinterpret_cast<const uint8_t*>(samples), frames, out);
  }
  void Flush(std::vector<int16_t>& out) override { Convert(nullptr, 0, out); }

 private:
  void Convert(const uint8_t* in, int frames, std::vector<int16_t>& out) {
    int capacity = static_cast<int>(av_rescale_rnd(swr_get_delay(context_, in_rate_) + frames,
                                                   out_rate_, in_rate_, AV_ROUND_UP));
    if (capacity <= 0) return;
    size_t before = out.size();
    out.resize(before + static_cast<size_t>(capacity));
    uint8_t* destination[1] = {reinterpret_cast<uint8_t*>(out.data() + before)};
    const uint8_t* source[1] = {in};
    int converted = swr_convert(context_, destination, capacity, in ? source : nullptr, frames);
    out.resize(before + static_cast<size_t>(std::max(0, converted)));
  }

  SwrContext* context_;
  int in_rate_, out_rate_;
};

void PutLittle(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

}  // namespace

Result<std::unique_ptr<MonoResampler>> MonoResampler::Create(int in_rate, int in_channels,
                                                             int out_rate) {
  AVChannelLayout in_layout, out_layout = AV_CHANNEL_LAYOUT_MONO;
  av_channel_layout_default(&in_layout, in_channels);
  SwrContext* context = nullptr;
  if (in_rate <= 0 || out_rate <= 0 ||
      swr_alloc_set_opts2(&context, &out_layout, AV_SAMPLE_FMT_S16, out_rate, &in_layout,
                          AV_SAMPLE_FMT_FLT, in_rate, 0, nullptr) < 0 ||
      swr_init(context) < 0) {
    swr_free(&context);
    return absl::InvalidArgumentError(StrCat("cannot resample ", in_channels, " channels at ",
                                             in_rate, " Hz to ", out_rate, " Hz mono"));
  }
  return std::unique_ptr<MonoResampler>(std::make_unique<SwrMono>(context, in_rate, out_rate));
}

std::string WavFile(const int16_t* samples, size_t count, int rate) {
  std::string out;
  uint32_t data_bytes = static_cast<uint32_t>(count * 2);
  out.reserve(44 + data_bytes);
  out += "RIFF";
  PutLittle(out, 36 + data_bytes, 4);
  out += "WAVEfmt ";
  PutLittle(out, 16, 4);                               // fmt chunk size
  PutLittle(out, 1, 2);                                // PCM
  PutLittle(out, 1, 2);                                // mono
  PutLittle(out, static_cast<uint32_t>(rate), 4);      // sample rate
  PutLittle(out, static_cast<uint32_t>(rate * 2), 4);  // byte rate
  PutLittle(out, 2, 2);                                // block align
  PutLittle(out, 16, 2);                               // bits per sample
  out += "data";
  PutLittle(out, data_bytes, 4);
  out.append(reinterpret_cast<const char*>(samples), data_bytes);
  return out;
}

}  // namespace sluice::media
