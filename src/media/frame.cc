#include "media/frame.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

#include <memory>

#include "common/strings.h"

namespace sluice::media {
namespace {

Status Undecodable(std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "undecodable", why);
}

}  // namespace

Result<cv::Mat> DecodeFirstFrame(const std::filesystem::path& file) {
  AVFormatContext* raw_format = nullptr;
  if (avformat_open_input(&raw_format, file.c_str(), nullptr, nullptr) < 0)
    return Undecodable("cannot open the file");
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> format(
      raw_format, [](AVFormatContext* c) { avformat_close_input(&c); });
  if (avformat_find_stream_info(format.get(), nullptr) < 0)
    return Undecodable("cannot read stream parameters");
  const AVCodec* codec = nullptr;
  int stream = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream < 0 || !codec) return Undecodable("no picture stream");
  std::unique_ptr<AVCodecContext, void (*)(AVCodecContext*)> decoder(
      avcodec_alloc_context3(codec), [](AVCodecContext* c) { avcodec_free_context(&c); });
  avcodec_parameters_to_context(decoder.get(), format->streams[stream]->codecpar);
  decoder->thread_count = 1;  // parallelism comes from the CPU pool, not the decoder
  if (avcodec_open2(decoder.get(), codec, nullptr) < 0)
    return Undecodable("cannot open the decoder");
  std::unique_ptr<AVPacket, void (*)(AVPacket*)> packet(av_packet_alloc(),
                                                        [](AVPacket* p) { av_packet_free(&p); });
  std::unique_ptr<AVFrame, void (*)(AVFrame*)> frame(av_frame_alloc(),
                                                     [](AVFrame* f) { av_frame_free(&f); });
  bool got = false;
  bool flushing = false;
  while (!got) {
    if (!flushing) {
      int read = av_read_frame(format.get(), packet.get());
      if (read < 0) {
        flushing = true;
        avcodec_send_packet(decoder.get(), nullptr);
      } else if (packet->stream_index == stream) {
        avcodec_send_packet(decoder.get(), packet.get());
      }
      av_packet_unref(packet.get());
    }
    int received = avcodec_receive_frame(decoder.get(), frame.get());
    if (received == 0)
      got = true;
    else if (received == AVERROR_EOF || (flushing && received != AVERROR(EAGAIN)))
      break;
    else if (flushing && received == AVERROR(EAGAIN))
      break;
  }
  if (!got || frame->width <= 0 || frame->height <= 0)
    return Undecodable("no picture could be decoded");
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

}  // namespace sluice::media
