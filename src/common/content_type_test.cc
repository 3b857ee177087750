#include "common/content_type.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace sluice {
namespace {

struct Case {
  std::string head;
  MediaKind kind;
  std::string mime;
};

// Failure messages name the case by the type it expects, not by its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.mime; }

class SniffTest : public testing::TestWithParam<Case> {};

TEST_P(SniffTest, Classifies) {
  SniffedType t = SniffContentType(GetParam().head);
  EXPECT_EQ(t.kind, GetParam().kind) << GetParam().mime;
  EXPECT_EQ(t.mime, GetParam().mime);
}

INSTANTIATE_TEST_SUITE_P(
    Magic, SniffTest,
    testing::Values(
        Case{"\xFF\xD8\xFF\xE0\0\x10JFIF", MediaKind::kImage, "image/jpeg"},
        Case{"\x89PNG\r\n\x1A\n\0\0\0\rIHDR", MediaKind::kImage, "image/png"},
        Case{"GIF89a\x01\0\x01\0", MediaKind::kImage, "image/gif"},
        Case{std::string("RIFF\0\0\0\0WEBPVP8 ", 16), MediaKind::kImage, "image/webp"},
        Case{std::string("\0\0\0\x20"
                         "ftypisom\0\0\2\0",
                         16),
             MediaKind::kVideo, "video/mp4"},
        Case{std::string("\0\0\0\x1c"
                         "ftypavif\0\0\0\0",
                         16),
             MediaKind::kImage, "image/avif"},
        Case{std::string("\0\0\0\x14"
                         "ftypqt  \0\0\0\0",
                         16),
             MediaKind::kVideo, "video/quicktime"},
        Case{"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\xF7\x81\x01webm", MediaKind::kVideo,
             "video/webm"},
        Case{"<!DOCTYPE html><html><body>not found</body></html>", MediaKind::kOther, "text/html"},
        Case{"\n\n  <html><head>", MediaKind::kOther, "text/html"},
        Case{"{\"error\": \"denied\"}", MediaKind::kOther, "application/json"},
        Case{"<svg xmlns=\"http://www.w3.org/2000/svg\">", MediaKind::kOther, "image/svg+xml"},
        Case{"%PDF-1.7", MediaKind::kOther, "application/pdf"},
        Case{"plain words", MediaKind::kOther, "text/plain"},
        Case{"", MediaKind::kOther, "application/octet-stream"}),
    // Named by the type expected: Magic/SniffTest.Classifies/image_jpeg_0, …
    [](const testing::TestParamInfo<Case>& info) {
      std::string name = info.param.mime;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name + "_" + std::to_string(info.index);
    });

}  // namespace
}  // namespace sluice
