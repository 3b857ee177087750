#include "common/content_type.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace sluice {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool At(std::string_view s, size_t offset, std::string_view magic) {
  return s.size() >= offset + magic.size() && s.substr(offset, magic.size()) == magic;
}

// ISO base media (MP4, MOV, HEIF, AVIF): "....ftyp<brand>".
SniffedType SniffIsoBmff(std::string_view head) {
  std::string_view brand = head.substr(8, 4);
  if (brand == "avif" || brand == "avis") return {MediaKind::kImage, "image/avif"};
  if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1") {
    return {MediaKind::kImage, "image/heic"};
  }
  if (brand == "qt  ") return {MediaKind::kVideo, "video/quicktime"};
  if (brand == "M4A " || brand == "M4B ") return {MediaKind::kAudio, "audio/mp4"};
  if (StartsWith(brand, "3g")) return {MediaKind::kVideo, "video/3gpp"};
  return {MediaKind::kVideo, "video/mp4"};
}

SniffedType SniffText(std::string_view head) {
  size_t start = 0;
  if (StartsWith(head, "\xEF\xBB\xBF")) start = 3;
  while (start < head.size() && std::isspace(static_cast<unsigned char>(head[start]))) ++start;
  std::string lower(head.substr(start));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (StartsWith(lower, "<svg") ||
      (StartsWith(lower, "<?xml") && lower.find("<svg") != std::string::npos)) {
    return {MediaKind::kOther, "image/svg+xml"};
  }
  if (StartsWith(lower, "<!doctype html") || StartsWith(lower, "<html") ||
      StartsWith(lower, "<head") || StartsWith(lower, "<body") || StartsWith(lower, "<!--") ||
      StartsWith(lower, "<div") || StartsWith(lower, "<title") || StartsWith(lower, "<p")) {
    return {MediaKind::kOther, "text/html"};
  }
  if (StartsWith(lower, "<?xml")) return {MediaKind::kOther, "application/xml"};
  if (StartsWith(lower, "{") || StartsWith(lower, "["))
    return {MediaKind::kOther, "application/json"};
  bool printable = !head.empty() && std::all_of(head.begin(), head.end(), [](unsigned char c) {
    return c == '\n' || c == '\r' || c == '\t' || c >= 0x20;
  });
  return {MediaKind::kOther, printable ? "text/plain" : "application/octet-stream"};
}

}  // namespace

SniffedType SniffContentType(std::string_view head) {
  head = head.substr(0, kSniffBytes);
  if (StartsWith(head, "\xFF\xD8\xFF")) return {MediaKind::kImage, "image/jpeg"};
  if (StartsWith(head, "\x89PNG\r\n\x1A\n")) return {MediaKind::kImage, "image/png"};
  if (StartsWith(head, "GIF87a") || StartsWith(head, "GIF89a"))
    return {MediaKind::kImage, "image/gif"};
  if (StartsWith(head, "RIFF") && At(head, 8, "WEBP")) return {MediaKind::kImage, "image/webp"};
  if (StartsWith(head, "RIFF") && At(head, 8, "AVI "))
    return {MediaKind::kVideo, "video/x-msvideo"};
  if (StartsWith(head, "RIFF") && At(head, 8, "WAVE")) return {MediaKind::kAudio, "audio/wav"};
  if (StartsWith(head, "BM") && head.size() >= 14) return {MediaKind::kImage, "image/bmp"};
  if (StartsWith(head, std::string_view("II*\0", 4)) ||
      StartsWith(head, std::string_view("MM\0*", 4))) {
    return {MediaKind::kImage, "image/tiff"};
  }
  if (StartsWith(head, std::string_view("\0\0\1\0", 4))) return {MediaKind::kImage, "image/x-icon"};
  if (At(head, 4, "ftyp") && head.size() >= 12) return SniffIsoBmff(head);
  if (StartsWith(head, "\x1A\x45\xDF\xA3")) {
    return {MediaKind::kVideo,
            head.find("webm") != std::string_view::npos ? "video/webm" : "video/x-matroska"};
  }
  if (StartsWith(head, "FLV\x01")) return {MediaKind::kVideo, "video/x-flv"};
  if (StartsWith(head, std::string_view("\0\0\1\xBA", 4)) ||
      StartsWith(head, std::string_view("\0\0\1\xB3", 4))) {
    return {MediaKind::kVideo, "video/mpeg"};
  }
  if (head.size() >= 189 && head[0] == 0x47 && head[188] == 0x47 &&
      (head.size() < 377 || head[376] == 0x47)) {
    // MPEG transport stream: sync byte 0x47 every 188 bytes, no transport-error bit.
    return {MediaKind::kVideo, "video/mp2t"};
  }
  if (StartsWith(head, "OggS")) return {MediaKind::kAudio, "audio/ogg"};
  if (StartsWith(head, "fLaC")) return {MediaKind::kAudio, "audio/flac"};
  if (StartsWith(head, "ID3") || (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xFF &&
                                  (static_cast<unsigned char>(head[1]) & 0xE0) == 0xE0)) {
    return {MediaKind::kAudio, "audio/mpeg"};
  }
  if (StartsWith(head, "%PDF")) return {MediaKind::kOther, "application/pdf"};
  if (StartsWith(head, "PK\x03\x04")) return {MediaKind::kOther, "application/zip"};
  if (StartsWith(head, "\x1F\x8B")) return {MediaKind::kOther, "application/gzip"};
  return SniffText(head);
}

std::string_view MediaKindName(MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage:
      return "image";
    case MediaKind::kVideo:
      return "video";
    case MediaKind::kAudio:
      return "audio";
    case MediaKind::kOther:
      return "other";
  }
  return "other";
}

std::optional<MediaKind> MediaKindFromName(std::string_view name) {
  for (MediaKind kind : {MediaKind::kImage, MediaKind::kVideo, MediaKind::kAudio}) {
    if (MediaKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace sluice
