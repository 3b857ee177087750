#include "cli/sample_media.h"

#include <array>
#include <fstream>

#include "common/strings.h"

// Each sample is assembled into .rodata straight from the file the build made (SAMPLES_DIR):
// no generated source, no copy at start-up.
#define SLUICE_EMBED(symbol, file)                                                                 \
  __asm__(".pushsection .rodata\n.balign 16\n.local " #symbol "_begin\n" #symbol                   \
          "_begin:\n.incbin \"" SLUICE_SAMPLES_DIR "/" file "\"\n.local " #symbol "_end\n" #symbol \
          "_end:\n.popsection\n");                                                                 \
  extern "C" const char symbol##_begin[];                                                          \
  extern "C" const char symbol##_end[];

SLUICE_EMBED(sluice_sample_summer_sale, "ad-summer-sale.jpg")
SLUICE_EMBED(sluice_sample_summer_sale_copy, "ad-summer-sale-copy.jpg")
SLUICE_EMBED(sluice_sample_summer_sale_small, "ad-summer-sale-small.jpg")
SLUICE_EMBED(sluice_sample_new_arrivals, "ad-new-arrivals.png")
SLUICE_EMBED(sluice_sample_coffee, "ad-coffee.jpg")
SLUICE_EMBED(sluice_sample_free_shipping, "banner-free-shipping.gif")
SLUICE_EMBED(sluice_sample_video, "video-ad-speech.mp4")
SLUICE_EMBED(sluice_sample_not_an_image, "not-really-an-image.jpg")

namespace sluice::cli {

#define SLUICE_SAMPLE(name, symbol)                                                            \
  SampleFile {                                                                                 \
    name, std::string_view(symbol##_begin, static_cast<size_t>(symbol##_end - symbol##_begin)) \
  }

std::span<const SampleFile> BundledSamples() {
  static const std::array<SampleFile, 8> samples = {
      SLUICE_SAMPLE("ad-coffee.jpg", sluice_sample_coffee),
      SLUICE_SAMPLE("ad-new-arrivals.png", sluice_sample_new_arrivals),
      SLUICE_SAMPLE("ad-summer-sale-copy.jpg", sluice_sample_summer_sale_copy),
      SLUICE_SAMPLE("ad-summer-sale-small.jpg", sluice_sample_summer_sale_small),
      SLUICE_SAMPLE("ad-summer-sale.jpg", sluice_sample_summer_sale),
      SLUICE_SAMPLE("banner-free-shipping.gif", sluice_sample_free_shipping),
      SLUICE_SAMPLE("not-really-an-image.jpg", sluice_sample_not_an_image),
      SLUICE_SAMPLE("video-ad-speech.mp4", sluice_sample_video),
  };
  return samples;
}

Result<int> WriteBundledSamples(const std::filesystem::path& dir) {
  auto unwritable = [&dir](std::string_view why) {
    return Failure(absl::StatusCode::kFailedPrecondition, "data_dir_unwritable",
                   StrCat("cannot write the sample media to ", dir.string(), ": ", why));
  };
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return unwritable(ec.message());
  int written = 0;
  for (const SampleFile& sample : BundledSamples()) {
    std::filesystem::path file = dir / sample.name;
    if (std::filesystem::exists(file, ec)) continue;
    std::ofstream out(file, std::ios::binary);
    out.write(sample.bytes.data(), static_cast<std::streamsize>(sample.bytes.size()));
    out.close();
    if (!out) return unwritable(StrCat("writing ", sample.name, " failed"));
    ++written;
  }
  return written;
}

}  // namespace sluice::cli
