#include "testing/fixtures.h"

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "testing/subprocess.h"

namespace sluice::testing {
namespace {

void Tool(const std::vector<std::string>& argv, const std::filesystem::path& dir) {
  ProcessResult result = RunProcess(argv, dir);
  if (result.exit_code != 0) {
    throw std::runtime_error("fixture tool failed: " + argv[0] + " " + argv.back() + ": " +
                             result.err);
  }
}

uint32_t Crc32(const unsigned char* data, size_t size) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void PutBigEndian(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
}

}  // namespace

std::filesystem::path MakeTextImage(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& text, const std::string& size) {
  std::filesystem::path out = dir / name;
  Tool({"/usr/bin/convert", "-size", size, "xc:white", "-font", "DejaVu-Sans", "-fill", "black",
        "-gravity", "center", "-pointsize", "64", "-annotate", "+0+0", text, out.string()},
       dir);
  return out;
}

std::filesystem::path MakeSolidImage(const std::filesystem::path& dir, const std::string& name,
                                     const std::string& color, const std::string& size) {
  std::filesystem::path out = dir / name;
  Tool({"/usr/bin/convert", "-size", size, "xc:" + color, out.string()}, dir);
  return out;
}

std::filesystem::path MakeNearDuplicate(const std::filesystem::path& source,
                                        const std::string& name) {
  std::filesystem::path out = source.parent_path() / name;
  Tool({"/usr/bin/convert", source.string(), "-resize", "60%", "-quality", "60", out.string()},
       source.parent_path());
  return out;
}

std::filesystem::path MakeFaceImage(const std::filesystem::path& dir, const std::string& name) {
  // Dark eyes and brows over lighter cheeks, a nose and a mouth: the contrasts a frontal-face
  // Haar cascade looks for.
  std::filesystem::path out = dir / name;
  Tool({"/usr/bin/convert",
        "-size",
        "400x400",
        "xc:#c8c8c8",
        "-fill",
        "#f0c8a0",
        "-draw",
        "ellipse 200,210 120,155 0,360",
        "-fill",
        "#202020",
        "-draw",
        "ellipse 155,170 28,14 0,360",
        "-draw",
        "ellipse 245,170 28,14 0,360",
        "-draw",
        "rectangle 120,135 190,145",
        "-draw",
        "rectangle 210,135 280,145",
        "-fill",
        "#a0785a",
        "-draw",
        "polygon 200,180 185,250 215,250",
        "-fill",
        "#602020",
        "-draw",
        "ellipse 200,295 50,14 0,360",
        "-blur",
        "0x3",
        out.string()},
       dir);
  return out;
}

std::filesystem::path MakeVideo(const std::filesystem::path& dir, const std::string& name,
                                int seconds, bool audio) {
  std::filesystem::path out = dir / name;
  std::string duration = std::to_string(seconds);
  std::vector<std::string> argv = {"/usr/bin/ffmpeg",
                                   "-v",
                                   "error",
                                   "-y",
                                   "-f",
                                   "lavfi",
                                   "-i",
                                   "testsrc=size=320x240:rate=25:duration=" + duration};
  if (audio) {
    argv.insert(argv.end(), {"-f", "lavfi", "-i", "sine=frequency=440:duration=" + duration});
  }
  argv.insert(argv.end(), {"-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast"});
  if (audio) argv.insert(argv.end(), {"-c:a", "aac", "-shortest"});
  argv.push_back(out.string());
  Tool(argv, dir);
  return out;
}

std::filesystem::path MakeFromFilterGraph(const std::filesystem::path& dir, const std::string& name,
                                          const std::string& graph,
                                          std::vector<std::string> codec_args) {
  std::filesystem::path out = dir / name;
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-v", "error", "-y",
                                   "-filter_complex", graph};
  bool video = graph.find("[out_v]") != std::string::npos;
  bool audio = graph.find("[out_a]") != std::string::npos;
  if (video) argv.insert(argv.end(), {"-map", "[out_v]"});
  if (audio) argv.insert(argv.end(), {"-map", "[out_a]"});
  if (codec_args.empty() && out.extension() == ".mp4") {
    if (video) {
      codec_args.insert(codec_args.end(),
                        {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"});
    }
    if (audio) codec_args.insert(codec_args.end(), {"-c:a", "aac", "-b:a", "128k"});
  }
  argv.insert(argv.end(), codec_args.begin(), codec_args.end());
  argv.push_back(out.string());
  Tool(argv, dir);
  return out;
}

std::filesystem::path MakePngBomb(const std::filesystem::path& dir, const std::string& name,
                                  uint32_t width, uint32_t height) {
  std::filesystem::path small = MakeSolidImage(dir, "bomb-source.png", "#000000", "16x16");
  std::ifstream in(small, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  std::string png = content.str();
  // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4) + 5 bytes + CRC (4).
  PutBigEndian(png, 16, width);
  PutBigEndian(png, 20, height);
  PutBigEndian(png, 29, Crc32(reinterpret_cast<const unsigned char*>(png.data()) + 12, 17));
  std::filesystem::path out = dir / name;
  std::ofstream(out, std::ios::binary) << png;
  std::filesystem::remove(small);
  return out;
}

}  // namespace sluice::testing
