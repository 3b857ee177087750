// Content type from magic bytes. A URL's extension and the server's Content-Type header lie
// often (an HTML error page served as `.jpg`); the first bytes of the body do not.
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

enum class MediaKind { kImage, kVideo, kAudio, kOther };

struct SniffedType {
  MediaKind kind = MediaKind::kOther;
  // IANA media type, e.g. "image/jpeg". For unrecognised binary data
  // "application/octet-stream"; for text that looks like markup "text/html".
  std::string mime;
};

// The number of leading bytes SniffContentType looks at; fewer are fine for short bodies.
inline constexpr size_t kSniffBytes = 512;

// Classifies a body from its first bytes (up to kSniffBytes; more are ignored).
SniffedType SniffContentType(std::string_view head);

// "image", "video", "audio" or "other".
std::string_view MediaKindName(MediaKind kind);
// The inverse for "image", "video" and "audio"; std::nullopt for anything else.
std::optional<MediaKind> MediaKindFromName(std::string_view name);

}  // namespace sluice
