#include "media/probe.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

#include <memory>

#include "common/strings.h"
#include "media/image_header.h"

namespace sluice::media {
namespace {

std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

bool IsStillImageCodec(AVCodecID id) {
  switch (id) {
    case AV_CODEC_ID_MJPEG:
    case AV_CODEC_ID_PNG:
    case AV_CODEC_ID_GIF:
    case AV_CODEC_ID_WEBP:
    case AV_CODEC_ID_BMP:
    case AV_CODEC_ID_TIFF:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<ProbeResult> Probe(const std::filesystem::path& file, const ProbeLimits& limits) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    return absl::NotFoundError(StrCat("no file ", file.string()));
  if (std::optional<ImageSize> declared = ReadImageSize(file)) {
    SLUICE_RETURN_IF_ERROR(CheckPixels(declared->width, declared->height, limits.max_pixels));
  }
  av_log_set_level(AV_LOG_QUIET);
  AVDictionary* options = nullptr;
  av_dict_set_int(&options, "probesize", limits.probe_bytes, 0);
  av_dict_set_int(&options, "analyzeduration", limits.analyze_us, 0);
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, file.c_str(), nullptr, &options);
  av_dict_free(&options);
  if (rc < 0) {
    return Failure(absl::StatusCode::kInvalidArgument, "undecodable",
                   StrCat("not readable media (", AvError(rc), ")"));
  }
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> context(
      raw, [](AVFormatContext* c) { avformat_close_input(&c); });
  if (static_cast<int>(context->nb_streams) > limits.max_streams) {
    return Failure(
        absl::StatusCode::kFailedPrecondition, "too_many_streams",
        StrCat(context->nb_streams, " streams; at most ", limits.max_streams, " are accepted"));
  }
  rc = avformat_find_stream_info(context.get(), nullptr);
  if (rc < 0) {
    return Failure(absl::StatusCode::kInvalidArgument, "undecodable",
                   StrCat("cannot read stream parameters (", AvError(rc), ")"));
  }
  ProbeResult out;
  out.format = context->iformat->name;
  out.streams = static_cast<int>(context->nb_streams);
  const AVStream* video = nullptr;
  for (unsigned i = 0; i < context->nb_streams; ++i) {
    const AVStream* stream = context->streams[i];
    const AVCodecParameters* codec = stream->codecpar;
    if (codec->codec_type == AVMEDIA_TYPE_VIDEO && !video &&
        !(stream->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
      video = stream;
    } else if (codec->codec_type == AVMEDIA_TYPE_AUDIO && !out.has_audio) {
      out.has_audio = true;
      out.audio_codec = avcodec_get_name(codec->codec_id);
    }
  }
  if (video) {
    out.width = video->codecpar->width;
    out.height = video->codecpar->height;
    out.video_codec = avcodec_get_name(video->codecpar->codec_id);
    if (out.width <= 0 || out.height <= 0) {
      return Failure(absl::StatusCode::kInvalidArgument, "undecodable",
                     StrCat("no picture size in the ", out.video_codec, " stream (not a valid ",
                            out.format, " file)"));
    }
  } else if (!out.has_audio) {
    return Failure(absl::StatusCode::kInvalidArgument, "undecodable", "no audio or video stream");
  }
  bool image_format = std::string_view(out.format).ends_with("_pipe") || out.format == "image2" ||
                      out.format == "gif" || out.format == "webp_pipe";
  bool still = video && (image_format || IsStillImageCodec(video->codecpar->codec_id)) &&
               context->duration <= 0 && !out.has_audio;
  if (video && (still || (image_format && IsStillImageCodec(video->codecpar->codec_id)))) {
    out.kind = MediaKind::kImage;
  } else if (video) {
    out.kind = MediaKind::kVideo;
    AVRational rate = av_guess_frame_rate(context.get(), const_cast<AVStream*>(video), nullptr);
    out.frame_rate = rate.den ? av_q2d(rate) : 0;
  } else if (out.has_audio) {
    out.kind = MediaKind::kAudio;
  }
  if (out.kind != MediaKind::kImage && context->duration > 0) {
    out.duration_s = static_cast<double>(context->duration) / AV_TIME_BASE;
  }
  return out;
}

}  // namespace sluice::media
