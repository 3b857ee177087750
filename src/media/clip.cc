// CutClip: libavformat demuxes and muxes (MP4 written to an unnamed-after-use temporary file,
// moov moved first), packets are copied or the picture goes through libavcodec's decoder,
// libswscale and the libx264 encoder.
#include "media/clip.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "av_handles.h"  // private to media/
#include "common/strings.h"

namespace sluice::media {
namespace {

Status Undecodable(std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "undecodable", why);
}

struct CloseOutput {
  void operator()(AVFormatContext* c) const {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  }
};

// A file that is removed when this goes out of scope.
struct ScratchFile {
  std::filesystem::path path;
  ~ScratchFile() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove(path, ignored);
  }
};

class Cutter {
 public:
  Cutter(const std::filesystem::path& file, double start_s, double end_s,
         const ClipOptions& options)
      : file_(file), start_s_(start_s), end_s_(end_s), options_(options) {}

  Result<Clip> Run() {
    SLUICE_RETURN_IF_ERROR(OpenInput());
    const AVStream* video = input_->streams[video_];
    start_ = ToTs(video, start_s_);
    end_ = ToTs(video, end_s_);
    // Where decoding can begin: the keyframe at or before the start.
    if (av_seek_frame(input_.get(), video_, start_, AVSEEK_FLAG_BACKWARD) < 0)
      av_seek_frame(input_.get(), video_, 0, AVSEEK_FLAG_BACKWARD);
    SLUICE_ASSIGN_OR_RETURN(int64_t keyframe, FirstVideoPacketPts());
    double frame_s = FrameSeconds();
    bool on_keyframe = std::abs((keyframe - start_) * av_q2d(video->time_base)) < frame_s / 2;
    copy_ = options_.mode == ClipMode::kCopy || (options_.mode == ClipMode::kAuto && on_keyframe);
    if (copy_) start_ = std::min(start_, keyframe);  // a copy begins at the keyframe
    // Start over from the keyframe with the muxer ready.
    av_seek_frame(input_.get(), video_, keyframe, AVSEEK_FLAG_BACKWARD);
    scratch_.path =
        std::filesystem::temp_directory_path() /
        StrCat("sluice-clip-", getpid(), "-", reinterpret_cast<uintptr_t>(this), ".mp4");
    SLUICE_RETURN_IF_ERROR(OpenOutput());
    SLUICE_RETURN_IF_ERROR(Copy());
    if (av_write_trailer(output_.get()) < 0) return Undecodable("cannot finish the clip file");
    output_.reset();  // closes the file
    std::ifstream in(scratch_.path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!in) return absl::DataLossError("cannot read the clip back from its scratch file");
    return Clip{.mp4 = bytes.str(),
                .start_s = start_ * av_q2d(video->time_base) - StreamStart(video),
                .end_s = end_s_,
                .copied = copy_};
  }

 private:
  static double StreamStart(const AVStream* stream) {
    return stream->start_time != AV_NOPTS_VALUE ? stream->start_time * av_q2d(stream->time_base)
                                                : 0;
  }
  static int64_t ToTs(const AVStream* stream, double seconds) {
    return static_cast<int64_t>(
        std::llround((seconds + StreamStart(stream)) / av_q2d(stream->time_base)));
  }
  double FrameSeconds() const {
    AVRational rate = av_guess_frame_rate(input_.get(), input_->streams[video_], nullptr);
    return rate.num > 0 ? av_q2d(av_inv_q(rate)) : 0.04;
  }

  Status OpenInput() {
    AVFormatContext* raw = nullptr;
    if (avformat_open_input(&raw, file_.c_str(), nullptr, nullptr) < 0)
      return Undecodable("cannot open the file");
    input_.reset(raw);
    if (avformat_find_stream_info(input_.get(), nullptr) < 0)
      return Undecodable("cannot read stream parameters");
    video_ = av_find_best_stream(input_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (video_ < 0) return Undecodable("no picture stream");
    audio_ = av_find_best_stream(input_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    double duration = input_->duration > 0 ? input_->duration / double(AV_TIME_BASE) : 0;
    if (!(end_s_ > start_s_) || start_s_ < 0 || (duration > 0 && start_s_ >= duration)) {
      return Failure(
          absl::StatusCode::kInvalidArgument, "bad_clip",
          StrCat("no clip from ", start_s_, " s to ", end_s_, " s in a video of ", duration, " s"));
    }
    return absl::OkStatus();
  }

  Result<int64_t> FirstVideoPacketPts() {
    while (av_read_frame(input_.get(), packet_.get()) >= 0) {
      bool video = packet_->stream_index == video_;
      int64_t pts = packet_->pts != AV_NOPTS_VALUE ? packet_->pts : packet_->dts;
      av_packet_unref(packet_.get());
      if (video) return pts;
    }
    return Undecodable("no picture after the seek point");
  }

  Status OpenOutput() {
    AVFormatContext* raw = nullptr;
    if (avformat_alloc_output_context2(&raw, nullptr, "mp4", scratch_.path.c_str()) < 0)
      return absl::InternalError("cannot create an MP4 muxer");
    output_.reset(raw);
    const AVStream* in_video = input_->streams[video_];
    AVStream* out_video = avformat_new_stream(output_.get(), nullptr);
    if (copy_) {
      avcodec_parameters_copy(out_video->codecpar, in_video->codecpar);
      out_video->codecpar->codec_tag = 0;
      out_video->time_base = in_video->time_base;
    } else {
      SLUICE_RETURN_IF_ERROR(OpenCodecs(in_video, out_video));
    }
    out_video_ = out_video->index;
    if (audio_ >= 0) {
      AVStream* out_audio = avformat_new_stream(output_.get(), nullptr);
      avcodec_parameters_copy(out_audio->codecpar, input_->streams[audio_]->codecpar);
      out_audio->codecpar->codec_tag = 0;
      out_audio->time_base = input_->streams[audio_]->time_base;
      out_audio_ = out_audio->index;
    }
    if (avio_open(&output_->pb, scratch_.path.c_str(), AVIO_FLAG_WRITE) < 0)
      return absl::InternalError(StrCat("cannot write ", scratch_.path.string()));
    AVDictionary* muxer_options = nullptr;
    av_dict_set(&muxer_options, "movflags", "+faststart", 0);
    int written = avformat_write_header(output_.get(), &muxer_options);
    av_dict_free(&muxer_options);
    if (written < 0) return Undecodable("cannot write the clip's header");
    return absl::OkStatus();
  }

  Status OpenCodecs(const AVStream* in_video, AVStream* out_video) {
    const AVCodec* decoder = avcodec_find_decoder(in_video->codecpar->codec_id);
    if (!decoder) return Undecodable("no decoder for the picture stream");
    decoder_.reset(avcodec_alloc_context3(decoder));
    avcodec_parameters_to_context(decoder_.get(), in_video->codecpar);
    decoder_->pkt_timebase = in_video->time_base;
    if (avcodec_open2(decoder_.get(), decoder, nullptr) < 0)
      return Undecodable("cannot open the decoder");
    const AVCodec* encoder = avcodec_find_encoder_by_name("libx264");
    if (!encoder) {
      return Failure(absl::StatusCode::kFailedPrecondition, "no_encoder",
                     "libavcodec has no libx264 encoder to re-encode the clip");
    }
    encoder_.reset(avcodec_alloc_context3(encoder));
    encoder_->width = decoder_->width;
    encoder_->height = decoder_->height;
    encoder_->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder_->sample_aspect_ratio = decoder_->sample_aspect_ratio;
    encoder_->time_base = in_video->time_base;
    AVRational rate = av_guess_frame_rate(input_.get(), const_cast<AVStream*>(in_video), nullptr);
    if (rate.num > 0) encoder_->framerate = rate;
    encoder_->thread_count = 1;  // parallelism comes from the CPU pool
    if (output_->oformat->flags & AVFMT_GLOBALHEADER)
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_opt_set(encoder_->priv_data, "preset", "veryfast", 0);
    av_opt_set(encoder_->priv_data, "crf", std::to_string(options_.crf).c_str(), 0);
    if (avcodec_open2(encoder_.get(), encoder, nullptr) < 0)
      return absl::InternalError("cannot open the H.264 encoder");
    avcodec_parameters_from_context(out_video->codecpar, encoder_.get());
    out_video->time_base = encoder_->time_base;
    return absl::OkStatus();
  }

  // Packets from the seek point to the end of the clip: copied, or the picture re-encoded.
  Status Copy() {
    const AVStream* video = input_->streams[video_];
    int64_t audio_start =
        audio_ >= 0 ? av_rescale_q(start_, video->time_base, input_->streams[audio_]->time_base)
                    : 0;
    int64_t audio_end =
        audio_ >= 0 ? av_rescale_q(end_, video->time_base, input_->streams[audio_]->time_base) : 0;
    bool video_done = false;
    while (!video_done && av_read_frame(input_.get(), packet_.get()) >= 0) {
      PacketPtr owned(av_packet_clone(packet_.get()));
      av_packet_unref(packet_.get());
      int64_t pts = owned->pts != AV_NOPTS_VALUE ? owned->pts : owned->dts;
      if (owned->stream_index == audio_ && audio_ >= 0) {
        if (pts < audio_start || pts >= audio_end) continue;
        SLUICE_RETURN_IF_ERROR(
            Write(owned.get(), input_->streams[audio_]->time_base, audio_start, out_audio_));
      } else if (owned->stream_index == video_) {
        if (copy_) {
          if (pts >= end_) {
            video_done = true;
            continue;
          }
          SLUICE_RETURN_IF_ERROR(Write(owned.get(), video->time_base, start_, out_video_));
        } else {
          SLUICE_RETURN_IF_ERROR(Reencode(owned.get(), video_done));
        }
      }
    }
    if (!copy_) {
      bool ignored = false;
      SLUICE_RETURN_IF_ERROR(Reencode(nullptr, ignored));
      SLUICE_RETURN_IF_ERROR(Encode(nullptr));
    }
    return absl::OkStatus();
  }

  Status Write(AVPacket* packet, AVRational from, int64_t origin, int stream) {
    if (packet->pts != AV_NOPTS_VALUE) packet->pts -= origin;
    if (packet->dts != AV_NOPTS_VALUE) packet->dts -= origin;
    packet->stream_index = stream;
    av_packet_rescale_ts(packet, from, output_->streams[stream]->time_base);
    packet->pos = -1;
    if (av_interleaved_write_frame(output_.get(), packet) < 0)
      return Undecodable("cannot write a packet of the clip");
    return absl::OkStatus();
  }

  // Decodes `packet` (null: flush) and encodes the pictures inside the clip.
  Status Reencode(const AVPacket* packet, bool& done) {
    avcodec_send_packet(decoder_.get(), packet);
    while (avcodec_receive_frame(decoder_.get(), frame_.get()) == 0) {
      int64_t pts = frame_->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE || pts < start_) {
        av_frame_unref(frame_.get());
        continue;
      }
      if (pts >= end_) {
        done = true;
        av_frame_unref(frame_.get());
        continue;
      }
      FramePtr picture(av_frame_alloc());
      picture->format = AV_PIX_FMT_YUV420P;
      picture->width = encoder_->width;
      picture->height = encoder_->height;
      av_frame_get_buffer(picture.get(), 0);
      scaler_.reset(sws_getCachedContext(scaler_.release(), frame_->width, frame_->height,
                                         static_cast<AVPixelFormat>(frame_->format),
                                         encoder_->width, encoder_->height, AV_PIX_FMT_YUV420P,
                                         SWS_BILINEAR, nullptr, nullptr, nullptr));
      if (!scaler_) return Undecodable("cannot convert the picture format");
      sws_scale(scaler_.get(), frame_->data, frame_->linesize, 0, frame_->height, picture->data,
                picture->linesize);
      picture->pts = pts - start_;
      av_frame_unref(frame_.get());
      SLUICE_RETURN_IF_ERROR(Encode(picture.get()));
    }
    return absl::OkStatus();
  }

  Status Encode(const AVFrame* picture) {
    if (avcodec_send_frame(encoder_.get(), picture) < 0 && picture)
      return absl::InternalError("the encoder refused a picture");
    PacketPtr out(av_packet_alloc());
    while (avcodec_receive_packet(encoder_.get(), out.get()) == 0) {
      out->stream_index = out_video_;
      av_packet_rescale_ts(out.get(), encoder_->time_base, output_->streams[out_video_]->time_base);
      if (av_interleaved_write_frame(output_.get(), out.get()) < 0)
        return Undecodable("cannot write a packet of the clip");
    }
    return absl::OkStatus();
  }

  const std::filesystem::path& file_;
  double start_s_, end_s_;
  const ClipOptions& options_;
  InputPtr input_;
  std::unique_ptr<AVFormatContext, CloseOutput> output_;
  CodecPtr decoder_, encoder_;
  PacketPtr packet_{av_packet_alloc()};
  FramePtr frame_{av_frame_alloc()};
  ScalerPtr scaler_;
  ScratchFile scratch_;
  int video_ = -1, audio_ = -1, out_video_ = -1, out_audio_ = -1;
  int64_t start_ = 0, end_ = 0;  // in the video stream's time base
  bool copy_ = false;
};

}  // namespace

Result<Clip> CutClip(const std::filesystem::path& file, double start_s, double end_s,
                     const ClipOptions& options) {
  return Cutter(file, start_s, end_s, options).Run();
}

}  // namespace sluice::media
