// The decoding pass of media/stream.h: libavformat demuxes, libavcodec decodes (one thread per
// decoder: parallelism comes from the CPU pool, one item per core), libswscale brings pictures
// to analysis size in 4:2:0 (4:2:0 pictures already at that size are used as decoded), block
// means make each frame's overview, libswresample turns audio into interleaved float.
#include <chrono>
#include <mutex>

#include "av_handles.h"  // private to media/
#include "common/strings.h"
#include "media/plane_stats.h"
#include "media/stream.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <opencv2/imgproc.hpp>

namespace sluice::media {
namespace {

using Clock = std::chrono::steady_clock;

Status Refused(absl::StatusCode code, std::string_view cause, std::string_view why) {
  return Failure(code, cause, why);
}

struct FreeResampler {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
using DecoderPtr = CodecPtr;

// The analysis size: the short side brought down to `short_side` (never up), both sides even
// (4:2:0 planes).
cv::Size AnalysisSize(int width, int height, int short_side) {
  int shorter = std::min(width, height);
  double scale = shorter > short_side ? static_cast<double>(short_side) / shorter : 1.0;
  auto even = [](double v) { return std::max(2, static_cast<int>(v / 2 + 0.5) * 2); };
  return {even(width * scale), even(height * scale)};
}

Result<DecoderPtr> OpenDecoder(const AVStream* stream) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) {
    return Refused(absl::StatusCode::kInvalidArgument, "undecodable",
                   StrCat("no decoder for ", avcodec_get_name(stream->codecpar->codec_id)));
  }
  DecoderPtr decoder(avcodec_alloc_context3(codec));
  if (!decoder || avcodec_parameters_to_context(decoder.get(), stream->codecpar) < 0)
    return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "bad codec parameters");
  decoder->thread_count = 1;  // parallelism comes from the CPU pool, not the decoder
  decoder->pkt_timebase = stream->time_base;
  if (avcodec_open2(decoder.get(), codec, nullptr) < 0)
    return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "cannot open the decoder");
  return decoder;
}

class Pass {
 public:
  Pass(const std::filesystem::path& file, const StreamLimits& limits,
       const std::vector<StreamSink*>& sinks)
      : file_(file), limits_(limits), sinks_(sinks) {}

  Result<PassStats> Run() {
    Clock::time_point start = Clock::now();
    SLUICE_RETURN_IF_ERROR(Open());
    for (StreamSink* sink : sinks_) sink->OnStart(info_);
    for (;;) {
      if (std::chrono::duration<double>(Clock::now() - start).count() > limits_.max_decode_s) {
        return Refused(absl::StatusCode::kDeadlineExceeded, "decode_timeout",
                       StrCat("decoding took longer than ", limits_.max_decode_s, " s"));
      }
      int read = av_read_frame(format_.get(), packet_.get());
      if (read < 0) {
        if (read != AVERROR_EOF && read != AVERROR(EAGAIN)) ++stats_.corrupt_packets;
        break;
      }
      int index = packet_->stream_index;
      if (index == video_stream_ && video_) {
        ++stats_.packets;
        SLUICE_RETURN_IF_ERROR(Decode(video_.get(), packet_.get(), true));
      } else if (index == audio_stream_ && audio_) {
        ++stats_.packets;
        SLUICE_RETURN_IF_ERROR(Decode(audio_.get(), packet_.get(), false));
      }
      av_packet_unref(packet_.get());
    }
    if (video_) SLUICE_RETURN_IF_ERROR(Decode(video_.get(), nullptr, true));
    if (audio_) SLUICE_RETURN_IF_ERROR(Decode(audio_.get(), nullptr, false));
    if (stats_.packets > 0 && static_cast<double>(stats_.corrupt_packets) / stats_.packets >
                                  limits_.max_corrupt_fraction) {
      return Refused(
          absl::StatusCode::kInvalidArgument, "mostly_corrupt",
          StrCat(stats_.corrupt_packets, " of ", stats_.packets, " packets could not be decoded"));
    }
    // Nothing decoded from a stream that was read is a broken file; a file without the streams
    // the sinks want is not (a transcript of a silent video says "no audio").
    if ((video_ || audio_) && stats_.frames == 0 && stats_.audio_frames == 0) {
      return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "nothing could be decoded");
    }
    stats_.decode_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (StreamSink* sink : sinks_) sink->OnEnd(stats_);
    return stats_;
  }

 private:
  Status Open() {
    std::error_code exists;
    if (!std::filesystem::exists(file_, exists))
      return absl::NotFoundError(StrCat("no file ", file_.string()));
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, file_.c_str(), nullptr, nullptr) < 0)
      return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "cannot open the file");
    format_.reset(raw);
    if (static_cast<int>(format_->nb_streams) > limits_.max_streams) {
      return Refused(absl::StatusCode::kFailedPrecondition, "too_many_streams",
                     StrCat(format_->nb_streams, " streams; the limit is ", limits_.max_streams));
    }
    if (avformat_find_stream_info(format_.get(), nullptr) < 0)
      return Refused(absl::StatusCode::kInvalidArgument, "undecodable",
                     "cannot read stream parameters");
    if (format_->duration > 0) info_.duration_s = format_->duration / double(AV_TIME_BASE);
    if (info_.duration_s > limits_.max_duration_s) {
      return Refused(absl::StatusCode::kFailedPrecondition, "too_long",
                     StrCat(info_.duration_s, " s; the limit is ", limits_.max_duration_s, " s"));
    }
    bool want_video = false, want_audio = false;
    for (StreamSink* sink : sinks_) {
      want_video |= sink->WantsVideo();
      want_audio |= sink->WantsAudio();
    }
    video_stream_ = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    // Cover art in an audio file is a one-picture "video" stream: not a video.
    if (video_stream_ >= 0 &&
        (format_->streams[video_stream_]->disposition & AV_DISPOSITION_ATTACHED_PIC))
      video_stream_ = -1;
    audio_stream_ = av_find_best_stream(format_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (video_stream_ < 0 && audio_stream_ < 0) {
      return Refused(absl::StatusCode::kInvalidArgument, "undecodable",
                     "no picture or audio stream");
    }
    if (video_stream_ >= 0) {
      const AVStream* stream = format_->streams[video_stream_];
      const AVCodecParameters* par = stream->codecpar;
      if (par->width <= 0 || par->height <= 0)
        return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "a picture of no size");
      if (int64_t{par->width} * par->height > limits_.max_pixels) {
        return Refused(absl::StatusCode::kFailedPrecondition, "too_many_pixels",
                       StrCat(par->width, "x", par->height, " pictures; the limit is ",
                              limits_.max_pixels, " pixels"));
      }
      info_.has_video = true;
      info_.source_width = par->width;
      info_.source_height = par->height;
      cv::Size size = AnalysisSize(par->width, par->height, limits_.analysis_short_side);
      info_.width = size.width;
      info_.height = size.height;
      AVRational rate =
          av_guess_frame_rate(format_.get(), format_->streams[video_stream_], nullptr);
      if (rate.num > 0 && rate.den > 0) info_.frame_rate = av_q2d(rate);
      video_start_ = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
      if (want_video) {
        SLUICE_ASSIGN_OR_RETURN(video_, OpenDecoder(stream));
      }
    }
    if (audio_stream_ >= 0) {
      const AVStream* stream = format_->streams[audio_stream_];
      info_.has_audio = true;
      info_.sample_rate = stream->codecpar->sample_rate;
      info_.channels = std::clamp(stream->codecpar->ch_layout.nb_channels, 1, 8);
      if (info_.sample_rate <= 0)
        return Refused(absl::StatusCode::kInvalidArgument, "undecodable", "audio of no rate");
      audio_start_ = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
      if (want_audio) {
        SLUICE_ASSIGN_OR_RETURN(audio_, OpenDecoder(stream));
      }
    }
    return absl::OkStatus();
  }

  // Sends `packet` (null: flush) and hands every frame it yields to the sinks.
  Status Decode(AVCodecContext* decoder, const AVPacket* packet, bool video) {
    int sent = avcodec_send_packet(decoder, packet);
    if (sent < 0 && sent != AVERROR(EAGAIN) && sent != AVERROR_EOF) ++stats_.corrupt_packets;
    for (;;) {
      int received = avcodec_receive_frame(decoder, frame_.get());
      if (received == AVERROR(EAGAIN) || received == AVERROR_EOF) return absl::OkStatus();
      if (received < 0) {
        ++stats_.corrupt_packets;
        return absl::OkStatus();
      }
      Status handled = video ? OnPicture(frame_.get()) : OnSamples(frame_.get());
      av_frame_unref(frame_.get());
      SLUICE_RETURN_IF_ERROR(handled);
    }
  }

  Status CheckTime(double time_s) {
    stats_.duration_s = std::max(stats_.duration_s, time_s);
    if (time_s > limits_.max_duration_s) {
      return Refused(absl::StatusCode::kFailedPrecondition, "too_long",
                     StrCat("the media runs past ", limits_.max_duration_s, " s (the limit)"));
    }
    return absl::OkStatus();
  }

  Status OnPicture(const AVFrame* picture) {
    if (int64_t{picture->width} * picture->height > limits_.max_pixels)
      return Refused(absl::StatusCode::kFailedPrecondition, "too_many_pixels",
                     StrCat("a ", picture->width, "x", picture->height, " picture"));
    const AVStream* stream = format_->streams[video_stream_];
    int64_t pts = picture->best_effort_timestamp;
    double time_s = pts == AV_NOPTS_VALUE
                        ? (info_.frame_rate > 0 ? stats_.frames / info_.frame_rate : 0)
                        : (pts - video_start_) * av_q2d(stream->time_base);
    SLUICE_RETURN_IF_ERROR(CheckTime(time_s));
    // Two sets of buffers in turn, so the previous frame's planes outlive it by one frame.
    Pictures& pictures = pictures_[stats_.frames % 2];
    int w = info_.width, h = info_.height;
    VideoFrame frame;
    frame.index = stats_.frames;
    frame.time_s = time_s;
    auto plane = [](const AVFrame* held, int index, int rows, int cols) {
      return cv::Mat(rows, cols, CV_8UC1, held->data[index],
                     static_cast<size_t>(held->linesize[index]));
    };
    bool planar420 = picture->format == AV_PIX_FMT_YUV420P;
    if (planar420) {
      // The decoder's own planes, held by a reference so they outlive the frame by one.
      av_frame_unref(pictures.decoded.get());
      av_frame_ref(pictures.decoded.get(), picture);
    }
    const AVFrame* held = pictures.decoded.get();
    if (planar420 && picture->width == w && picture->height == h) {
      frame.y = plane(held, 0, h, w);
      frame.u = plane(held, 1, h / 2, w / 2);
      frame.v = plane(held, 2, h / 2, w / 2);
    } else {
      if (planar420 && picture->width % 2 == 0 && picture->height % 2 == 0) {
        frame.source_y = plane(held, 0, picture->height, picture->width);
        frame.source_u = plane(held, 1, picture->height / 2, picture->width / 2);
        frame.source_v = plane(held, 2, picture->height / 2, picture->width / 2);
      }
      // Fast bilinear: the detectors read block means and histograms, which the aliasing of a
      // two-tap reduction hardly moves, at a fifth of the default filter's cost (which took a
      // third of a 1080p pass). Keyframes are reduced from the source planes properly.
      scaler_.reset(sws_getCachedContext(scaler_.release(), picture->width, picture->height,
                                         static_cast<AVPixelFormat>(picture->format), w, h,
                                         AV_PIX_FMT_YUV420P, SWS_FAST_BILINEAR, nullptr, nullptr,
                                         nullptr));
      if (!scaler_) {
        ++stats_.corrupt_packets;
        return absl::OkStatus();
      }
      pictures.i420.create(h * 3 / 2, w, CV_8UC1);
      uint8_t* base = pictures.i420.data;
      uint8_t* planes[3] = {base, base + w * h, base + w * h + w * h / 4};
      int strides[3] = {w, w / 2, w / 2};
      sws_scale(scaler_.get(), picture->data, picture->linesize, 0, picture->height, planes,
                strides);
      frame.y = cv::Mat(h, w, CV_8UC1, planes[0]);
      frame.u = cv::Mat(h / 2, w / 2, CV_8UC1, planes[1]);
      frame.v = cv::Mat(h / 2, w / 2, CV_8UC1, planes[2]);
    }
    BlockMeans(frame.y, 8, pictures.small_y);
    BlockMeans(frame.u, 4, pictures.small_u);
    BlockMeans(frame.v, 4, pictures.small_v);
    frame.small_y = pictures.small_y;
    frame.small_u = pictures.small_u;
    frame.small_v = pictures.small_v;
    bool converted = false;
    frame.bgr = [&]() -> const cv::Mat& {
      if (!converted) {
        cv::cvtColor(PackI420(frame.y, frame.u, frame.v), bgr_, cv::COLOR_YUV2BGR_I420);
      }
      converted = true;
      return bgr_;
    };
    for (StreamSink* sink : sinks_) {
      if (sink->WantsVideo()) sink->OnFrame(frame);
    }
    ++stats_.frames;
    return absl::OkStatus();
  }

  Status OnSamples(const AVFrame* samples) {
    if (!resampler_) {
      AVChannelLayout out_layout;
      av_channel_layout_default(&out_layout, info_.channels);
      SwrContext* raw = nullptr;
      if (swr_alloc_set_opts2(&raw, &out_layout, AV_SAMPLE_FMT_FLT, info_.sample_rate,
                              const_cast<AVChannelLayout*>(&samples->ch_layout),
                              static_cast<AVSampleFormat>(samples->format), samples->sample_rate, 0,
                              nullptr) < 0 ||
          swr_init(raw) < 0) {
        swr_free(&raw);
        return Refused(absl::StatusCode::kInvalidArgument, "undecodable",
                       "cannot convert the audio samples");
      }
      resampler_.reset(raw);
      const AVStream* stream = format_->streams[audio_stream_];
      audio_origin_s_ = samples->pts == AV_NOPTS_VALUE
                            ? 0
                            : (samples->pts - audio_start_) * av_q2d(stream->time_base);
    }
    int capacity = swr_get_out_samples(resampler_.get(), samples->nb_samples);
    if (capacity <= 0) return absl::OkStatus();
    audio_buffer_.resize(static_cast<size_t>(capacity) * info_.channels);
    uint8_t* out[1] = {reinterpret_cast<uint8_t*>(audio_buffer_.data())};
    int converted =
        swr_convert(resampler_.get(), out, capacity,
                    const_cast<const uint8_t**>(samples->extended_data), samples->nb_samples);
    if (converted <= 0) return absl::OkStatus();
    AudioBlock block{
        .time_s = audio_origin_s_ + static_cast<double>(stats_.audio_frames) / info_.sample_rate,
        .samples = audio_buffer_.data(),
        .frames = converted,
        .channels = info_.channels,
        .sample_rate = info_.sample_rate};
    SLUICE_RETURN_IF_ERROR(CheckTime(block.time_s));
    for (StreamSink* sink : sinks_) {
      if (sink->WantsAudio()) sink->OnAudio(block);
    }
    stats_.audio_frames += converted;
    stats_.duration_s = std::max(stats_.duration_s,
                                 block.time_s + static_cast<double>(converted) / info_.sample_rate);
    return absl::OkStatus();
  }

  const std::filesystem::path& file_;
  const StreamLimits& limits_;
  const std::vector<StreamSink*>& sinks_;
  StreamInfo info_;
  PassStats stats_;
  InputPtr format_;
  DecoderPtr video_, audio_;
  int video_stream_ = -1, audio_stream_ = -1;
  int64_t video_start_ = 0, audio_start_ = 0;
  double audio_origin_s_ = 0;
  PacketPtr packet_{av_packet_alloc()};
  FramePtr frame_{av_frame_alloc()};
  ScalerPtr scaler_;
  std::unique_ptr<SwrContext, FreeResampler> resampler_;
  // A frame's planes: the decoder's (held) or scaled into i420; and its overview.
  struct Pictures {
    FramePtr decoded{av_frame_alloc()};
    cv::Mat i420;  // Y then U then V, contiguous
    cv::Mat small_y, small_u, small_v;
  };
  Pictures pictures_[2];
  cv::Mat bgr_;
  std::vector<float> audio_buffer_;
};

class FilePass : public DecodePass {
 public:
  FilePass(std::filesystem::path file, StreamLimits limits)
      : file_(std::move(file)), limits_(limits) {}

  Result<PassStats> Run(const std::vector<StreamSink*>& sinks) override {
    std::lock_guard lock(mutex_);
    ++runs_;
    av_log_set_level(AV_LOG_QUIET);  // corrupt stretches are counted, not printed
    return Pass(file_, limits_, sinks).Run();
  }
  const StreamLimits& limits() const override { return limits_; }
  int runs() const override { return runs_; }

 private:
  std::filesystem::path file_;
  StreamLimits limits_;
  std::mutex mutex_;
  int runs_ = 0;
};

}  // namespace

std::unique_ptr<DecodePass> OpenDecodePass(std::filesystem::path file, StreamLimits limits) {
  return std::make_unique<FilePass>(std::move(file), limits);
}

}  // namespace sluice::media
