#include "media/image_header.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>

#include "common/strings.h"

namespace sluice::media {
namespace {

uint32_t Be16(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 8) | static_cast<uint8_t>(s[at + 1]);
}
uint32_t Be32(const std::string& s, size_t at) { return (Be16(s, at) << 16) | Be16(s, at + 2); }
uint32_t Le16(const std::string& s, size_t at) {
  return uint32_t{static_cast<uint8_t>(s[at])} | (uint32_t{static_cast<uint8_t>(s[at + 1])} << 8);
}
uint32_t Le24(const std::string& s, size_t at) {
  return Le16(s, at) | (uint32_t{static_cast<uint8_t>(s[at + 2])} << 16);
}
uint32_t Le32(const std::string& s, size_t at) { return Le16(s, at) | (Le16(s, at + 2) << 16); }

// JPEG: walk the marker segments to the first start-of-frame.
std::optional<ImageSize> JpegSize(std::ifstream& in) {
  in.seekg(2);
  for (int segments = 0; segments < 1000 && in; ++segments) {
    std::string marker(2, '\0');
    if (!in.read(marker.data(), 2) || static_cast<uint8_t>(marker[0]) != 0xFF) return std::nullopt;
    uint8_t type = static_cast<uint8_t>(marker[1]);
    if (type == 0xFF) {  // fill byte
      in.seekg(-1, std::ios::cur);
      continue;
    }
    if (type == 0xD8 || (type >= 0xD0 && type <= 0xD7) || type == 0x01) continue;  // no length
    std::string length(2, '\0');
    if (!in.read(length.data(), 2)) return std::nullopt;
    uint32_t size = Be16(length, 0);
    if (size < 2) return std::nullopt;
    bool start_of_frame =
        type >= 0xC0 && type <= 0xCF && type != 0xC4 && type != 0xC8 && type != 0xCC;
    if (start_of_frame) {
      std::string frame(5, '\0');
      if (!in.read(frame.data(), 5)) return std::nullopt;
      return ImageSize{Be16(frame, 3), Be16(frame, 1)};
    }
    in.seekg(size - 2, std::ios::cur);
  }
  return std::nullopt;
}

}  // namespace

std::optional<ImageSize> ReadImageSize(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(32, '\0');
  if (!in.read(head.data(), head.size()) && in.gcount() < 26) return std::nullopt;
  head.resize(static_cast<size_t>(in.gcount()));
  in.clear();
  if (head.starts_with("\x89PNG\r\n\x1A\n") && head.substr(12, 4) == "IHDR") {
    return ImageSize{Be32(head, 16), Be32(head, 20)};
  }
  if (head.starts_with("\xFF\xD8")) return JpegSize(in);
  if (head.starts_with("GIF87a") || head.starts_with("GIF89a"))
    return ImageSize{Le16(head, 6), Le16(head, 8)};
  if (head.starts_with("BM")) {
    // A negative height is a top-down bitmap; a negative width, a damaged header.
    auto width = static_cast<int32_t>(Le32(head, 18));
    auto height = static_cast<int32_t>(Le32(head, 22));
    if (width < 0) return std::nullopt;
    return ImageSize{width, std::abs(int64_t{height})};
  }
  if (head.starts_with("RIFF") && head.substr(8, 4) == "WEBP") {
    std::string chunk = head.substr(12, 4);
    if (chunk == "VP8X" && head.size() >= 30)
      return ImageSize{Le24(head, 24) + 1, Le24(head, 27) + 1};
    if (chunk == "VP8L" && head.size() >= 25) {
      uint32_t bits = Le32(head, 21);
      return ImageSize{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
    }
    if (chunk == "VP8 " && head.size() >= 30)
      return ImageSize{Le16(head, 26) & 0x3FFF, Le16(head, 28) & 0x3FFF};
  }
  return std::nullopt;
}

Status CheckPixels(int64_t width, int64_t height, int64_t max_pixels) {
  // Divided rather than multiplied: two 32-bit sides overflow a product of 64 bits.
  auto at_most = [&](int64_t limit) {
    return width >= 0 && height >= 0 && (height == 0 || width <= limit / height);
  };
  if (at_most(max_pixels)) return absl::OkStatus();
  std::string pixels =
      at_most(std::numeric_limits<int64_t>::max()) ? StrCat(" (", width * height, " pixels)") : "";
  return Failure(absl::StatusCode::kFailedPrecondition, "too_many_pixels",
                 StrCat("image is ", width, "x", height, pixels, "; the limit is ", max_pixels));
}

std::vector<std::string> ImageWarnings(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(8, '\0');
  if (!in.read(head.data(), 8)) return {};
  // The end marker must be in the file's tail; writers may pad or append after it, so the
  // tail is searched rather than only its last bytes.
  constexpr std::streamoff kTail = 64 * 1024;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from = std::max<std::streamoff>(0, size - kTail);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.seekg(from);
  if (!in.read(tail.data(), static_cast<std::streamsize>(tail.size()))) return {};
  auto has = [&tail](std::string_view marker) { return tail.find(marker) != std::string::npos; };
  if (head.starts_with("\xFF\xD8\xFF") && !has("\xFF\xD9"))
    return {"truncated: no JPEG end-of-image marker"};
  if (head.starts_with("\x89PNG\r\n\x1A\n") && !has("IEND"))
    return {"truncated: no PNG IEND chunk"};
  if (head.starts_with("GIF8")) {
    size_t last = tail.find_last_not_of('\0');
    if (last == std::string::npos || tail[last] != ';') return {"truncated: no GIF trailer"};
  }
  return {};
}

}  // namespace sluice::media
