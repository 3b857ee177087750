// ocr.tesseract. Kept in its own file: Tesseract's and Leptonica's headers stay out of the rest.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <map>
#include <memory>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "methods/local/local_methods.h"

namespace sluice::methods {
namespace {

class OcrMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    // Version 2: words that are only whitespace are left out.
    static const MethodSpec spec{.name = "ocr.tesseract",
                                 .version = 2,
                                 .kinds = {MediaKind::kImage},
                                 .inputs = {"image"},
                                 .description =
                                     "Text in the image (Tesseract 5): full text, and words with "
                                     "boxes and confidences",
                                 .params = {{"lang", "eng"}, {"min_confidence", 30}}};
    return spec;
  }

  Status CompleteParams(json::object& params) const override {
    return RequireRange(params, "min_confidence", 0, 100);
  }

  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    std::string lang(params.at("lang").as_string());
    double min_confidence = params.at("min_confidence").to_number<double>();
    SLUICE_ASSIGN_OR_RETURN(tesseract::TessBaseAPI * api, EngineFor(lang));
    cv::Mat gray;
    cv::cvtColor(*image, gray, cv::COLOR_BGR2GRAY);
    api->SetImage(gray.data, gray.cols, gray.rows, 1, static_cast<int>(gray.step));
    if (api->Recognize(nullptr) != 0) {
      return Failure(absl::StatusCode::kInternal, "ocr_failed",
                     "Tesseract could not recognise the image");
    }
    std::unique_ptr<char[]> all(api->GetUTF8Text());
    json::array words;
    std::unique_ptr<tesseract::ResultIterator> it(api->GetIterator());
    if (it) {
      do {
        std::unique_ptr<char[]> word(it->GetUTF8Text(tesseract::RIL_WORD));
        if (!word || Trim(word.get()).empty()) continue;  // a "word" of spaces says nothing
        float confidence = it->Confidence(tesseract::RIL_WORD);
        if (confidence < min_confidence) continue;
        int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
        it->BoundingBox(tesseract::RIL_WORD, &x1, &y1, &x2, &y2);
        words.push_back(
            json::object{{"text", word.get()},
                         {"confidence", std::round(static_cast<double>(confidence) * 10) / 10},
                         {"box", {{"x", x1}, {"y", y1}, {"w", x2 - x1}, {"h", y2 - y1}}}});
      } while (it->Next(tesseract::RIL_WORD));
    }
    api->Clear();
    std::string text = all ? all.get() : "";
    return MethodOutput{.value = json::object{{"text", std::string(Trim(text))}, {"words", words}}};
  }

 private:
  // One engine per CPU-pool thread and language: Tesseract instances are not thread-safe, and
  // loading a language model takes ~100 ms, so each is loaded once.
  static Result<tesseract::TessBaseAPI*> EngineFor(const std::string& lang) {
    thread_local std::map<std::string, std::unique_ptr<tesseract::TessBaseAPI>> engines;
    auto& engine = engines[lang];
    if (!engine) {
      auto created = std::make_unique<tesseract::TessBaseAPI>();
      if (created->Init(nullptr, lang.c_str()) != 0) {
        return Failure(absl::StatusCode::kFailedPrecondition, "model_missing",
                       StrCat("no Tesseract data for language '", lang, "' (install tesseract-ocr-",
                              lang, ")"));
      }
      created->SetPageSegMode(tesseract::PSM_AUTO);
      created->SetVariable("debug_file", "/dev/null");  // no "Estimating resolution" chatter
      engine = std::move(created);
    }
    return engine.get();
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewOcrMethod() { return std::make_unique<OcrMethod>(); }

}  // namespace sluice::methods
