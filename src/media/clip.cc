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
#include <cstring>
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
    if (options_.mode == ClipMode::kCopy || (options_.mode == ClipMode::kAuto && on_keyframe)) {
      cut_ = ClipCut::kCopied;
      copying_ = true;
      start_ = std::min(start_, keyframe);  // a copy begins at the keyframe
    } else if (options_.mode == ClipMode::kAuto && ReadParameterSets() && FindResumeKeyframe()) {
      cut_ = ClipCut::kSmart;
    }
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
    double tb = av_q2d(video->time_base);
    double encoded_s = cut_ == ClipCut::kCopied  ? 0
                       : cut_ == ClipCut::kSmart ? (resume_ - start_) * tb
                                                 : end_s_ - start_s_;
    return Clip{.mp4 = bytes.str(),
                .start_s = start_ * tb - StreamStart(video),
                .end_s = end_s_,
                .cut = cut_,
                .encoded_s = encoded_s};
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

  // A smart cut splices re-encoded pictures before copied ones in one H.264 track, so it needs
  // the source's parameter sets (from its avcC record) to repeat where the copy resumes: the
  // decoder then switches back from the encoder's. False for other codecs and layouts.
  bool ReadParameterSets() {
    const AVCodecParameters* par = input_->streams[video_]->codecpar;
    const uint8_t* avcc = par->extradata;
    size_t size = par->extradata_size > 0 ? static_cast<size_t>(par->extradata_size) : 0;
    if (par->codec_id != AV_CODEC_ID_H264 || size < 7 || avcc[0] != 1) return false;
    nal_length_size_ = (avcc[4] & 3) + 1;
    size_t at = 5;
    for (int kind = 0; kind < 2; ++kind) {  // the SPS, then the PPS
      if (at >= size) return false;
      int count = kind == 0 ? avcc[at] & 0x1f : avcc[at];
      ++at;
      for (int i = 0; i < count; ++i) {
        if (at + 2 > size) return false;
        size_t length = (size_t{avcc[at]} << 8) | avcc[at + 1];
        at += 2;
        if (at + length > size) return false;
        AppendNal(parameter_sets_, avcc + at, length);
        at += length;
      }
    }
    return !parameter_sets_.empty();
  }

  // The first keyframe after the start and before the end, where copying can take over.
  bool FindResumeKeyframe() {
    while (av_read_frame(input_.get(), packet_.get()) >= 0) {
      bool key = packet_->stream_index == video_ && (packet_->flags & AV_PKT_FLAG_KEY);
      int64_t pts = packet_->pts, dts = packet_->dts;
      av_packet_unref(packet_.get());
      if (!key || pts == AV_NOPTS_VALUE || pts <= start_) continue;
      if (pts >= end_) return false;
      resume_ = pts;
      resume_delay_ = dts != AV_NOPTS_VALUE ? pts - dts : 0;
      return true;
    }
    return false;
  }

  void AppendNal(std::string& out, const uint8_t* nal, size_t length) const {
    for (int shift = 8 * (nal_length_size_ - 1); shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((length >> shift) & 0xff));
    out.append(reinterpret_cast<const char*>(nal), length);
  }

  // The encoder writes Annex B (start codes, its own parameter sets in band); the track stores
  // NAL units behind their lengths, as the source's avcC record says.
  std::string LengthPrefixed(const uint8_t* data, size_t size) const {
    std::string out;
    auto start_code_at = [&](size_t i) {
      return i + 3 <= size && data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1;
    };
    size_t i = 0;
    while (i < size && !start_code_at(i)) ++i;
    while (i < size) {
      size_t begin = i + 3, end = begin;
      while (end < size && !start_code_at(end)) ++end;
      size_t next = end;
      while (end > begin && data[end - 1] == 0) --end;  // a 4-byte start code's leading zero
      if (end > begin) AppendNal(out, data + begin, end - begin);
      i = next;
    }
    return out;
  }

  static void ReplacePayload(AVPacket* packet, std::string_view payload) {
    PacketPtr fresh(av_packet_alloc());
    av_new_packet(fresh.get(), static_cast<int>(payload.size()));
    std::memcpy(fresh->data, payload.data(), payload.size());
    av_packet_copy_props(fresh.get(), packet);
    av_packet_unref(packet);
    av_packet_move_ref(packet, fresh.get());
  }

  Status OpenOutput() {
    AVFormatContext* raw = nullptr;
    if (avformat_alloc_output_context2(&raw, nullptr, "mp4", scratch_.path.c_str()) < 0)
      return absl::InternalError("cannot create an MP4 muxer");
    output_.reset(raw);
    const AVStream* in_video = input_->streams[video_];
    AVStream* out_video = avformat_new_stream(output_.get(), nullptr);
    if (cut_ == ClipCut::kEncoded) {
      SLUICE_RETURN_IF_ERROR(OpenCodecs(in_video));
      avcodec_parameters_from_context(out_video->codecpar, encoder_.get());
      out_video->time_base = encoder_->time_base;
    } else {
      if (cut_ == ClipCut::kSmart) SLUICE_RETURN_IF_ERROR(OpenCodecs(in_video));
      avcodec_parameters_copy(out_video->codecpar, in_video->codecpar);
      out_video->codecpar->codec_tag = 0;
      out_video->time_base = in_video->time_base;
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

  Status OpenCodecs(const AVStream* in_video) {
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
    if (cut_ == ClipCut::kSmart) {
      // Parameter sets in band (the track's avcC is the source's), and no reordering: with
      // decode order equal to display order the head's decode times can all precede the first
      // copied packet's.
      encoder_->max_b_frames = 0;
    } else if (output_->oformat->flags & AVFMT_GLOBALHEADER) {
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    av_opt_set(encoder_->priv_data, "preset", "veryfast", 0);
    av_opt_set(encoder_->priv_data, "crf", std::to_string(options_.crf).c_str(), 0);
    if (avcodec_open2(encoder_.get(), encoder, nullptr) < 0)
      return absl::InternalError("cannot open the H.264 encoder");
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
        if (cut_ == ClipCut::kSmart && !copying_ && pts == resume_ &&
            (owned->flags & AV_PKT_FLAG_KEY)) {
          SLUICE_RETURN_IF_ERROR(FinishHead());
          // The source's parameter sets again, so the decoder leaves the encoder's behind.
          std::string payload = parameter_sets_;
          payload.append(reinterpret_cast<const char*>(owned->data), owned->size);
          ReplacePayload(owned.get(), payload);
          copying_ = true;
        }
        if (!copying_) {
          SLUICE_RETURN_IF_ERROR(Reencode(owned.get(), video_done));
          continue;
        }
        if (pts >= end_) {
          video_done = true;
          continue;
        }
        // Leading pictures of an open GOP belong to the head, which has them re-encoded.
        if (cut_ == ClipCut::kSmart && pts < resume_) continue;
        SLUICE_RETURN_IF_ERROR(Write(owned.get(), video->time_base, start_, out_video_));
      }
    }
    if (cut_ == ClipCut::kSmart && !copying_) return Undecodable("the clip's keyframe vanished");
    if (cut_ == ClipCut::kEncoded) {
      bool ignored = false;
      SLUICE_RETURN_IF_ERROR(Reencode(nullptr, ignored));
      SLUICE_RETURN_IF_ERROR(Encode(nullptr));
    }
    return absl::OkStatus();
  }

  // The head's last pictures out of the decoder and the encoder, before the copy resumes.
  Status FinishHead() {
    bool ignored = false;
    SLUICE_RETURN_IF_ERROR(Reencode(nullptr, ignored));
    return Encode(nullptr);
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
      // libx264 leaves durations out; without one the muxer's edit list drops the last picture.
      if (out->duration <= 0 && encoder_->framerate.num > 0)
        out->duration = av_rescale_q(1, av_inv_q(encoder_->framerate), encoder_->time_base);
      if (cut_ == ClipCut::kSmart) {
        ReplacePayload(out.get(), LengthPrefixed(out->data, static_cast<size_t>(out->size)));
        // Decode times as far behind as the copied part's, so they keep rising across the
        // splice (the encoder's pictures are in display order).
        out->dts = out->pts - resume_delay_;
      }
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
  ClipCut cut_ = ClipCut::kEncoded;
  // For a smart cut: the keyframe where copying resumes, its decode delay (pts - dts), and the
  // source's SPS and PPS behind lengths of nal_length_size_ bytes.
  int64_t resume_ = 0, resume_delay_ = 0;
  int nal_length_size_ = 4;
  std::string parameter_sets_;
  bool copying_ = false;  // packets are copied from here on (at once for kCopied, never kEncoded)
};

}  // namespace

std::string_view ClipCutName(ClipCut cut) {
  switch (cut) {
    case ClipCut::kCopied:
      return "copy";
    case ClipCut::kSmart:
      return "smart";
    case ClipCut::kEncoded:
      return "encode";
  }
  return "encode";
}

Result<Clip> CutClip(const std::filesystem::path& file, double start_s, double end_s,
                     const ClipOptions& options) {
  av_log_set_level(AV_LOG_QUIET);  // failures come back as a Status, not on stderr
  return Cutter(file, start_s, end_s, options).Run();
}

}  // namespace sluice::media
