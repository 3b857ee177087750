#include "media/frame.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

#include <memory>

#include "av_handles.h"  // private to media/
#include "common/strings.h"

namespace sluice::media {
namespace {

Status Undecodable(std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "undecodable", why);
}

// One file's best picture stream, decoded frame by frame, with seeking.
class PictureDecoder {
 public:
  Status Open(const std::filesystem::path& file) {
    AVFormatContext* raw_format = nullptr;
    if (avformat_open_input(&raw_format, file.c_str(), nullptr, nullptr) < 0)
      return Undecodable("cannot open the file");
    format_.reset(raw_format);
    if (avformat_find_stream_info(format_.get(), nullptr) < 0)
      return Undecodable("cannot read stream parameters");
    const AVCodec* codec = nullptr;
    stream_ = av_find_best_stream(format_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_ < 0 || !codec) return Undecodable("no picture stream");
    decoder_.reset(avcodec_alloc_context3(codec));
    avcodec_parameters_to_context(decoder_.get(), format_->streams[stream_]->codecpar);
    decoder_->thread_count = 1;  // parallelism comes from the CPU pool, not the decoder
    if (avcodec_open2(decoder_.get(), codec, nullptr) < 0)
      return Undecodable("cannot open the decoder");
    return absl::OkStatus();
  }

  // The stream's duration in its time base; 0 when unknown.
  int64_t Duration() const {
    const AVStream* stream = format_->streams[stream_];
    if (stream->duration > 0) return stream->duration;
    if (format_->duration > 0)
      return av_rescale_q(format_->duration, AVRational{1, AV_TIME_BASE}, stream->time_base);
    return 0;
  }

  // `seconds` from the stream's start in its time base.
  int64_t ToTimestamp(double seconds) const {
    const AVStream* stream = format_->streams[stream_];
    int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    return start + static_cast<int64_t>(seconds / av_q2d(stream->time_base));
  }

  // Positions before `timestamp` (stream time base); the next Next() returns the first frame at
  // or after it. False when the file cannot seek.
  bool Seek(int64_t timestamp) {
    if (av_seek_frame(format_.get(), stream_, timestamp, AVSEEK_FLAG_BACKWARD) < 0) return false;
    avcodec_flush_buffers(decoder_.get());
    flushing_ = false;
    min_timestamp_ = timestamp;
    return true;
  }

  // The next decoded frame (at or after the last Seek), or null at the end.
  AVFrame* Next() {
    for (;;) {
      int received = avcodec_receive_frame(decoder_.get(), frame_.get());
      if (received == 0) {
        int64_t at = frame_->best_effort_timestamp;
        if (at != AV_NOPTS_VALUE && at < min_timestamp_) continue;
        return frame_.get();
      }
      if (received == AVERROR_EOF || (flushing_ && received == AVERROR(EAGAIN))) return nullptr;
      if (received != AVERROR(EAGAIN)) return nullptr;
      int read = av_read_frame(format_.get(), packet_.get());
      if (read < 0) {
        flushing_ = true;
        avcodec_send_packet(decoder_.get(), nullptr);
      } else if (packet_->stream_index == stream_) {
        avcodec_send_packet(decoder_.get(), packet_.get());
      }
      av_packet_unref(packet_.get());
    }
  }

  static Result<cv::Mat> ToBgr(const AVFrame* frame) {
    if (frame->width <= 0 || frame->height <= 0) return Undecodable("an empty picture");
    cv::Mat bgr(frame->height, frame->width, CV_8UC3);
    SwsContext* scale = sws_getContext(
        frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), frame->width,
        frame->height, AV_PIX_FMT_BGR24, SWS_BILINEAR, nullptr, nullptr, nullptr);
    if (!scale) return Undecodable(StrCat("cannot convert pixel format ", frame->format));
    uint8_t* destination[1] = {bgr.data};
    int stride[1] = {static_cast<int>(bgr.step)};
    sws_scale(scale, frame->data, frame->linesize, 0, frame->height, destination, stride);
    sws_freeContext(scale);
    return bgr;
  }

 private:
  InputPtr format_;
  CodecPtr decoder_;
  PacketPtr packet_{av_packet_alloc()};
  FramePtr frame_{av_frame_alloc()};
  int stream_ = -1;
  bool flushing_ = false;
  int64_t min_timestamp_ = INT64_MIN;
};

}  // namespace

Result<cv::Mat> DecodeFirstFrame(const std::filesystem::path& file) {
  PictureDecoder decoder;
  SLUICE_RETURN_IF_ERROR(decoder.Open(file));
  AVFrame* frame = decoder.Next();
  if (!frame) return Undecodable("no picture could be decoded");
  return PictureDecoder::ToBgr(frame);
}

Result<cv::Mat> FrameAt(const std::filesystem::path& file, double seconds) {
  PictureDecoder decoder;
  SLUICE_RETURN_IF_ERROR(decoder.Open(file));
  decoder.Seek(decoder.ToTimestamp(seconds));  // a stream that cannot seek gives its first
  AVFrame* frame = decoder.Next();
  if (!frame) return Undecodable("no picture could be decoded");
  return PictureDecoder::ToBgr(frame);
}

Result<std::vector<cv::Mat>> SampleFrames(const std::filesystem::path& file, int count) {
  PictureDecoder decoder;
  SLUICE_RETURN_IF_ERROR(decoder.Open(file));
  int64_t duration = decoder.Duration();
  std::vector<cv::Mat> frames;
  for (int k = 0; k < std::max(1, count); ++k) {
    // The middle of each of `count` equal spans: no black first frame, no fade-out.
    if (duration > 0 && !decoder.Seek(duration * (2 * k + 1) / (2 * std::max(1, count)))) break;
    AVFrame* frame = decoder.Next();
    if (!frame) break;
    SLUICE_ASSIGN_OR_RETURN(cv::Mat bgr, PictureDecoder::ToBgr(frame));
    frames.push_back(std::move(bgr));
    if (duration <= 0) break;  // cannot seek: the first picture is all there is
  }
  if (frames.empty()) return Undecodable("no picture could be decoded");
  return frames;
}

}  // namespace sluice::media
