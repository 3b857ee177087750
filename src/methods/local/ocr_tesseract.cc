// ocr.tesseract. Kept in its own file: Tesseract's and Leptonica's headers stay out of the rest.
//
// Ad creatives defeat Tesseract's own page analysis: heavy outlined headlines over gradients and
// photo-like backgrounds, light text on dark, small taglines on translucent bands, text rotated
// a few degrees. So the method finds the text lines itself and reads each one apart (measured on
// the scored corpus of bench/quality; design note 36):
//   1. lines: letters as maximally stable regions (MSER) of the picture and of its negative,
//      chained left to right with neighbours of like height that overlap vertically;
//   2. per line: levelled by the slope of its letters, scaled so the line is ~48 px high, and
//      binarised on the channel (grey, B, G, R, saturation) whose Otsu split separates best,
//      the background made white by the crop's border;
//   3. Tesseract reads it as one line; while its words are unsure (confidence, dictionary) the
//      line is read again letter by letter (each letter's box split by its own threshold: a
//      shape behind half a word), from the next channel, without shapes cut by the crop's
//      edge, and with a local threshold; the best reading is kept;
//   4. lines read as mostly unsure words (a busy background read as letters) are left out.
// With no line found the whole picture is read the plain way.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>
#include <unordered_set>

#include "common/disjoint_sets.h"
#include "common/strings.h"
#include "methods/local/local_methods.h"

namespace sluice::methods {
namespace {

// One word as Tesseract read it, its box in the item's pixels.
struct Word {
  std::string text;
  float confidence = 0;
  cv::Rect2d box;
};

struct Reading {
  std::vector<Word> words;
  double score = -1;  // mean confidence plus the dictionary's word
};

// A line of text found in the picture: its box and slope.
// One letter candidate: a maximally stable region of the picture (dark letters) or of its
// negative (light ones), at the size lines are found at.
struct Letter {
  cv::Rect box;
  cv::Point2d center;
  bool light = false;
  size_t region = 0;  // in LineFinding::regions[light]
};

struct TextLine {
  cv::Rect box;  // at the size lines are found at, then in the item's pixels
  double angle_degrees = 0;
  std::vector<size_t> letters;  // in LineFinding::letters
};

struct LineFinding {
  std::vector<TextLine> lines;  // in reading order
  std::vector<Letter> letters;
  std::vector<std::vector<cv::Point>> regions[2];  // [light]
  double scale = 1;                                // of the picture lines were found in
};

// English words (Debian's wamerican), lower case; empty when the list is not installed.
const std::unordered_set<std::string>& Dictionary() {
  static const std::unordered_set<std::string> words = [] {
    std::unordered_set<std::string> out;
    std::ifstream in("/usr/share/dict/words");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find('\'') == std::string::npos) out.insert(ToLower(line));
    }
    return out;
  }();
  return words;
}

// How believable a word is as text: a dictionary word or a number ("50%", "2024") is; a string
// of letters that is neither may be a name, or a misreading.
bool Plausible(std::string_view word) {
  std::string letters;
  bool digits = false;
  for (char c : word) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) letters.push_back(static_cast<char>(std::tolower(u)));
    digits |= std::isdigit(u) != 0;
  }
  if (letters.empty()) return digits;
  if (digits) return false;  // "B0OK": letters and digits mixed
  const auto& dictionary = Dictionary();
  return dictionary.empty() || dictionary.contains(letters);
}

double ScoreOf(const std::vector<Word>& words) {
  if (words.empty()) return 0;
  double confidence = 0, plausible = 0;
  for (const Word& word : words) {
    confidence += word.confidence;
    plausible += Plausible(word.text) ? 1 : 0;
  }
  double n = static_cast<double>(words.size());
  return confidence / n + 15 * plausible / n;
}

// The lines of text in `gray`: letters as maximally stable regions, chained left to right with
// neighbours of like height that overlap vertically.
LineFinding FindLines(const cv::Mat& gray) {
  LineFinding found;
  std::vector<Letter>& blobs = found.letters;
  // Letters are maximally stable regions: dark ones of the picture, light ones of its negative.
  cv::Ptr<cv::MSER> mser = cv::MSER::create(5, 30, static_cast<int>(gray.total() / 20));
  const cv::Mat negative = 255 - gray;
  for (bool light : {false, true}) {
    std::vector<cv::Rect> boxes;
    mser->detectRegions(light ? negative : gray, found.regions[light], boxes);
    for (size_t i = 0; i < boxes.size(); ++i) {
      const cv::Rect& box = boxes[i];
      // Letters: not specks, not the picture's own bands and borders, not vertical rules.
      if (box.height < 7 || box.height > gray.rows * 0.6 || box.height > box.width * 12) continue;
      blobs.push_back({.box = box,
                       .center = cv::Point2d(box.x + box.width / 2.0, box.y + box.height / 2.0),
                       .light = light,
                       .region = i});
    }
  }
  std::sort(blobs.begin(), blobs.end(),
            [](const Letter& a, const Letter& b) { return a.box.x < b.box.x; });
  DisjointSets sets(blobs.size());
  for (size_t a = 0; a < blobs.size(); ++a) {
    const cv::Rect& p = blobs[a].box;
    for (size_t b = a + 1; b < blobs.size(); ++b) {
      const cv::Rect& q = blobs[b].box;
      double height = std::max(p.height, q.height);
      if (q.x > p.x + p.width + height) break;  // sorted by left edge: the rest are farther
      double small = std::min(p.height, q.height);
      double overlap = std::min(p.y + p.height, q.y + q.height) - std::max(p.y, q.y);
      if (overlap < 0.5 * small || height > 2.6 * small) continue;
      sets.Join(a, b);
    }
  }
  std::map<size_t, std::vector<size_t>> members;
  for (size_t i = 0; i < blobs.size(); ++i) members[sets.Find(i)].push_back(i);
  std::vector<TextLine>& lines = found.lines;
  for (const auto& [root, group] : members) {
    cv::Rect box = blobs[group.front()].box;
    double heights = 0;
    for (size_t i : group) {
      box |= blobs[i].box;
      heights += blobs[i].box.height;
    }
    double mean_height = heights / static_cast<double>(group.size());
    // A line is longer than high; one blob alone may be a small word whose letters touch, but
    // a large one is a shape.
    if (box.width < 1.5 * mean_height || (group.size() == 1 && box.height > 40)) continue;
    TextLine line{.box = box, .letters = group};
    if (group.size() >= 4) {  // the slope of the letters' centres, least squares
      double mx = 0, my = 0, sxx = 0, sxy = 0;
      for (size_t i : group) {
        mx += blobs[i].center.x;
        my += blobs[i].center.y;
      }
      mx /= static_cast<double>(group.size());
      my /= static_cast<double>(group.size());
      for (size_t i : group) {
        sxx += (blobs[i].center.x - mx) * (blobs[i].center.x - mx);
        sxy += (blobs[i].center.x - mx) * (blobs[i].center.y - my);
      }
      double angle = sxx > 0 ? std::atan(sxy / sxx) * 180 / CV_PI : 0;
      if (std::abs(angle) >= 0.7 && std::abs(angle) <= 10) line.angle_degrees = angle;
    }
    lines.push_back(line);
  }
  // A line mostly inside another (pieces of its letters that did not chain) joins it.
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t a = 0; a < lines.size() && !merged; ++a) {
      for (size_t b = 0; b < lines.size() && !merged; ++b) {
        if (a == b) continue;
        cv::Rect inside = lines[a].box & lines[b].box;
        double heights = static_cast<double>(lines[a].box.height) / lines[b].box.height;
        if (inside.area() >= 0.5 * lines[b].box.area() && heights < 2 && heights > 0.5) {
          lines[a].box |= lines[b].box;
          lines[a].letters.insert(lines[a].letters.end(), lines[b].letters.begin(),
                                  lines[b].letters.end());
          lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(b));
          merged = true;
        }
      }
    }
  }
  constexpr size_t kMaxLines = 24;  // a busy background's false lines cost a read each
  if (lines.size() > kMaxLines) {
    std::partial_sort(
        lines.begin(), lines.begin() + kMaxLines, lines.end(),
        [](const TextLine& a, const TextLine& b) { return a.box.area() > b.box.area(); });
    lines.resize(kMaxLines);
  }
  // Reading order: top to bottom, left to right within a row.
  std::sort(lines.begin(), lines.end(), [](const TextLine& a, const TextLine& b) {
    double a_mid = a.box.y + a.box.height / 2.0, b_mid = b.box.y + b.box.height / 2.0;
    bool same_row = std::abs(a_mid - b_mid) < 0.5 * std::min(a.box.height, b.box.height);
    return same_row ? a.box.x < b.box.x : a_mid < b_mid;
  });
  return found;
}

// The line binarised letter by letter: each letter's box (of the polarity most of the line's
// letters have, of about the line's height) split by its own Otsu threshold in `gray` (the
// levelled line, which `to_line` maps the item's pixels relative to `crop_origin` into), text
// black on white. A shape behind half a word then does not turn half its letters over.
cv::Mat LetterByLetter(const LineFinding& found, const TextLine& line, const cv::Mat& to_line,
                       cv::Point crop_origin, const cv::Mat& gray) {
  // One polarity's letters binarised, and how much of their boxes' edges came out as text: the
  // right polarity leaves the space around each letter white (an outline around light letters
  // is a dark region of the same height too, so counting regions cannot tell).
  auto binarise = [&](bool light, double& edge_text) {
    cv::Mat out(gray.size(), CV_8U, cv::Scalar(255));
    std::vector<int> heights;
    for (size_t i : line.letters) {
      if (found.letters[i].light == light) heights.push_back(found.letters[i].box.height);
    }
    edge_text = 1;
    if (heights.empty()) return out;
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    double median = heights[heights.size() / 2];
    double edge_pixels = 0, edge_black = 0;
    for (size_t i : line.letters) {
      const Letter& letter = found.letters[i];
      if (letter.light != light || letter.box.height < 0.5 * median ||
          letter.box.height > 1.5 * median || letter.box.width > 1.6 * letter.box.height)
        continue;  // not a letter: a stroke of one, a word, or the space around several
      // The letter's box in the levelled line: its corners mapped, with a pixel to spare.
      std::vector<cv::Point2d> corners, mapped;
      for (cv::Point corner : {letter.box.tl(), letter.box.br(),
                               cv::Point(letter.box.x, letter.box.y + letter.box.height),
                               cv::Point(letter.box.x + letter.box.width, letter.box.y)}) {
        corners.emplace_back(corner.x / found.scale - crop_origin.x,
                             corner.y / found.scale - crop_origin.y);
      }
      cv::transform(corners, mapped, to_line);
      cv::Rect box = cv::boundingRect(std::vector<cv::Point2f>(mapped.begin(), mapped.end()));
      box = (box + cv::Size(4, 4) - cv::Point(2, 2)) & cv::Rect(0, 0, gray.cols, gray.rows);
      if (box.width < 3 || box.height < 3) continue;
      cv::Mat text;
      cv::threshold(gray(box), text, 0, 255,
                    (light ? cv::THRESH_BINARY : cv::THRESH_BINARY_INV) | cv::THRESH_OTSU);
      out(box).setTo(0, text);
      edge_pixels += 2.0 * (box.width + box.height);
      edge_black += cv::countNonZero(text.row(0)) + cv::countNonZero(text.row(text.rows - 1)) +
                    cv::countNonZero(text.col(0)) + cv::countNonZero(text.col(text.cols - 1));
    }
    if (edge_pixels > 0) edge_text = edge_black / edge_pixels;
    return out;
  };
  double dark_edges = 1, light_edges = 1;
  cv::Mat dark = binarise(false, dark_edges), light = binarise(true, light_edges);
  return light_edges < dark_edges ? light : dark;
}

// Otsu's separability of one channel: between-class over total variance (1 = two flat
// colours, 0 = no split).
double Separability(const cv::Mat& channel, double& threshold) {
  cv::Mat ignored;
  threshold = cv::threshold(channel, ignored, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  cv::Scalar mean, stddev;
  cv::meanStdDev(channel, mean, stddev);
  double total = stddev[0] * stddev[0];
  if (total < 1e-6) return 0;
  cv::Mat below = channel <= threshold;
  double n = static_cast<double>(channel.total()), n0 = cv::countNonZero(below), n1 = n - n0;
  if (n0 == 0 || n1 == 0) return 0;
  double m0 = cv::mean(channel, below)[0], m1 = cv::mean(channel, ~below)[0];
  return (n0 / n) * (n1 / n) * (m0 - m1) * (m0 - m1) / total;
}

// Black text on white: the colour most of the crop's border has is the background.
cv::Mat WhiteBackground(cv::Mat binary) {
  int white = 0, total = 0;
  for (int x = 0; x < binary.cols; ++x) {
    white += (binary.at<uchar>(0, x) > 127) + (binary.at<uchar>(binary.rows - 1, x) > 127);
    total += 2;
  }
  for (int y = 0; y < binary.rows; ++y) {
    white += (binary.at<uchar>(y, 0) > 127) + (binary.at<uchar>(y, binary.cols - 1) > 127);
    total += 2;
  }
  if (white * 2 < total) cv::bitwise_not(binary, binary);
  return binary;
}

// A line whose words are this unsure (mean confidence, plus 15 when all are words) is not
// reported: what is found there is mostly a shape or a busy background read as letters
// (bench/quality: real lines score 85-111, false ones below 60).
constexpr double kMinLineScore = 65;

class OcrMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    // Version 3: lines found and read one by one (see the top of this file); "lines" added.
    // Version 4: a line's box is its words' box.
    static const MethodSpec spec{.name = "ocr.tesseract",
                                 .version = 4,
                                 .kinds = {MediaKind::kImage},
                                 .inputs = {"image"},
                                 .description =
                                     "Text in the image (Tesseract 5 over lines found by OpenCV): "
                                     "full text, lines in reading order, and words with boxes and "
                                     "confidences",
                                 .params = {{"lang", "eng"}, {"min_confidence", 30}}};
    return spec;
  }

  Status CompleteParams(json::object& params) const override {
    return RequireRange(params, "min_confidence", 0, 100);
  }

  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    std::string lang(params.at("lang").as_string());
    float min_confidence = params.at("min_confidence").to_number<float>();
    SLUICE_ASSIGN_OR_RETURN(tesseract::TessBaseAPI * api, EngineFor(lang));
    cv::Mat gray;
    cv::cvtColor(*image, gray, cv::COLOR_BGR2GRAY);
    // Lines are found at a size where small text still has edges and large text is not slow.
    double scale = std::clamp(1000.0 / std::max(gray.cols, gray.rows), 0.5, 2.0);
    cv::Mat work;
    cv::resize(gray, work, cv::Size(), scale, scale, scale > 1 ? cv::INTER_CUBIC : cv::INTER_AREA);
    json::array lines, words;
    std::string text;
    LineFinding found = FindLines(work);
    found.scale = scale;
    for (TextLine& line : found.lines) {
      line.box = cv::Rect(cv::Rect2d(line.box.x / scale, line.box.y / scale, line.box.width / scale,
                                     line.box.height / scale));
      Reading reading = ReadLine(*api, *image, line, found);
      // A shape, or a busy background, read as text; or a lone letter or two.
      if (reading.score < kMinLineScore ||
          (reading.words.size() == 1 && reading.words[0].text.size() <= 2))
        continue;
      std::string line_text;
      json::array line_words;
      double confidence = 0;
      // The line's box is its words' (the region it was found in may hold shapes or letters
      // read as nothing: a set method compares text sizes by it).
      cv::Rect2d words_box;
      for (const Word& word : reading.words) {
        if (word.confidence < min_confidence) continue;
        StrAppend(line_text, line_text.empty() ? "" : " ", word.text);
        confidence += word.confidence;
        words_box = line_words.empty() ? word.box : (words_box | word.box);
        json::object out = WordJson(word);
        line_words.push_back(out);
        words.push_back(std::move(out));
      }
      if (line_text.empty()) continue;
      StrAppend(text, text.empty() ? "" : "\n", line_text);
      lines.push_back(json::object{
          {"text", line_text},
          {"confidence", std::round(confidence / static_cast<double>(line_words.size()) * 10) / 10},
          {"box", BoxJson(words_box & cv::Rect2d(0, 0, image->cols, image->rows))}});
    }
    if (lines.empty()) {  // no line found: the whole picture, the plain way
      SLUICE_ASSIGN_OR_RETURN(std::vector<Word> page, ReadPage(*api, gray));
      for (const Word& word : page) {
        if (word.confidence < min_confidence) continue;
        StrAppend(text, text.empty() ? "" : " ", word.text);
        words.push_back(WordJson(word));
      }
    }
    return MethodOutput{
        .value = json::object{{"text", std::move(text)}, {"lines", lines}, {"words", words}}};
  }

 private:
  static json::object BoxJson(const cv::Rect2d& box) {
    return json::object{{"x", std::lround(box.x)},
                        {"y", std::lround(box.y)},
                        {"w", std::lround(box.width)},
                        {"h", std::lround(box.height)}};
  }
  static json::object WordJson(const Word& word) {
    return json::object{{"text", word.text},
                        {"confidence", std::round(static_cast<double>(word.confidence) * 10) / 10},
                        {"box", BoxJson(word.box)}};
  }

  // The words Tesseract reads in the image set on `api`, boxes mapped by `to_item` (from the
  // image's pixels to the item's).
  static std::vector<Word> Words(tesseract::TessBaseAPI& api, const cv::Mat& to_item) {
    std::vector<Word> out;
    std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
    if (!it) return out;
    do {
      std::unique_ptr<char[]> word(it->GetUTF8Text(tesseract::RIL_WORD));
      // A "word" of spaces or of marks alone ("|", "—" from an edge) says nothing.
      if (!word || std::none_of(word.get(), word.get() + std::strlen(word.get()),
                                [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
        continue;
      int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
      it->BoundingBox(tesseract::RIL_WORD, &x1, &y1, &x2, &y2);
      std::vector<cv::Point2d> corners = {{double(x1), double(y1)},
                                          {double(x2), double(y1)},
                                          {double(x1), double(y2)},
                                          {double(x2), double(y2)}};
      std::vector<cv::Point2d> mapped;
      cv::transform(corners, mapped, to_item);
      double left = mapped[0].x, top = mapped[0].y, right = left, bottom = top;
      for (const cv::Point2d& p : mapped) {
        left = std::min(left, p.x), right = std::max(right, p.x);
        top = std::min(top, p.y), bottom = std::max(bottom, p.y);
      }
      out.push_back({.text = std::string(Trim(word.get())),
                     .confidence = it->Confidence(tesseract::RIL_WORD),
                     .box = cv::Rect2d(left, top, right - left, bottom - top)});
    } while (it->Next(tesseract::RIL_WORD));
    return out;
  }

  static Result<std::vector<Word>> ReadPage(tesseract::TessBaseAPI& api, const cv::Mat& gray) {
    api.SetPageSegMode(tesseract::PSM_AUTO);
    api.SetImage(gray.data, gray.cols, gray.rows, 1, static_cast<int>(gray.step));
    if (api.Recognize(nullptr) != 0) {
      api.Clear();
      return Failure(absl::StatusCode::kInternal, "ocr_failed",
                     "Tesseract could not recognise the image");
    }
    std::vector<Word> words = Words(api, cv::Mat::eye(2, 3, CV_64F));
    api.Clear();
    return words;
  }

  // One line, read from its best binarisation.
  static Reading ReadLine(tesseract::TessBaseAPI& api, const cv::Mat& image, const TextLine& line,
                          const LineFinding& found) {
    // The crop with a margin, turned level, scaled so the line is ~48 px high.
    int margin = std::max(3, line.box.height / 4);
    cv::Rect crop = (line.box + cv::Size(2 * margin, 2 * margin)) - cv::Point(margin, margin);
    crop &= cv::Rect(0, 0, image.cols, image.rows);
    double scale = std::clamp(48.0 / std::max(1, line.box.height), 0.4, 5.0);
    cv::Point2d center(crop.width / 2.0, crop.height / 2.0);
    cv::Mat to_line = cv::getRotationMatrix2D(center, line.angle_degrees, scale);
    cv::Size size(static_cast<int>(std::ceil(crop.width * scale)),
                  static_cast<int>(std::ceil(crop.height * scale)));
    to_line.at<double>(0, 2) += size.width / 2.0 - center.x;
    to_line.at<double>(1, 2) += size.height / 2.0 - center.y;
    cv::Mat levelled;
    cv::warpAffine(image(crop), levelled, to_line, size,
                   scale > 1 ? cv::INTER_CUBIC : cv::INTER_AREA, cv::BORDER_REPLICATE);
    cv::Mat to_item;
    cv::invertAffineTransform(to_line, to_item);
    to_item.at<double>(0, 2) += crop.x;
    to_item.at<double>(1, 2) += crop.y;

    // Candidate channels, best separated first.
    cv::Mat hsv, gray;
    cv::cvtColor(levelled, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(levelled, hsv, cv::COLOR_BGR2HSV);
    std::vector<cv::Mat> bgr(3), hsv_planes(3);
    cv::split(levelled, bgr);
    cv::split(hsv, hsv_planes);
    struct Candidate {
      cv::Mat channel;
      double separability = 0, threshold = 0;
    };
    std::vector<Candidate> candidates = {{gray}, {bgr[0]}, {bgr[1]}, {bgr[2]}, {hsv_planes[1]}};
    for (Candidate& c : candidates) c.separability = Separability(c.channel, c.threshold);
    std::stable_sort(
        candidates.begin(), candidates.end(),
        [](const Candidate& a, const Candidate& b) { return a.separability > b.separability; });
    constexpr int kBorder = 12;  // Tesseract reads a line better with white space around it
    Reading best;
    auto read = [&](const cv::Mat& binary) {
      // Nothing dark, nothing to read (and Tesseract's single-line layout leaks the row it
      // makes for a line without letters).
      if (cv::countNonZero(binary < 128) < 8) return;
      cv::Mat padded;
      cv::copyMakeBorder(binary, padded, kBorder, kBorder, kBorder, kBorder, cv::BORDER_CONSTANT,
                         cv::Scalar(255));
      api.SetPageSegMode(tesseract::PSM_SINGLE_LINE);
      api.SetImage(padded.data, padded.cols, padded.rows, 1, static_cast<int>(padded.step));
      if (api.Recognize(nullptr) != 0) {
        api.Clear();
        return;
      }
      cv::Mat from_padded = to_item.clone();
      // The padded image's pixel (x, y) is the levelled image's (x - border, y - border).
      from_padded.at<double>(0, 2) -=
          kBorder * (to_item.at<double>(0, 0) + to_item.at<double>(0, 1));
      from_padded.at<double>(1, 2) -=
          kBorder * (to_item.at<double>(1, 0) + to_item.at<double>(1, 1));
      Reading reading{.words = Words(api, from_padded)};
      api.Clear();
      reading.score = ScoreOf(reading.words);
      if (reading.score > best.score) best = std::move(reading);
    };
    // Sure enough: confident words that are words.
    auto sure = [&] {
      bool each_sure = std::all_of(best.words.begin(), best.words.end(),
                                   [](const Word& w) { return w.confidence >= 85; });
      return each_sure && best.score >= 95;
    };
    auto binary_of = [&](size_t i) {
      cv::Mat binary;
      cv::threshold(candidates[i].channel, binary, candidates[i].threshold, 255, cv::THRESH_BINARY);
      return WhiteBackground(binary);
    };
    const cv::Mat first = binary_of(0);
    read(first);
    if (!sure()) read(LetterByLetter(found, line, to_line, crop.tl(), gray));
    if (!sure()) read(binary_of(1));
    if (!sure()) {  // a shape behind some letters: the dark shapes cut by the crop's edge go
      cv::Mat binary = first.clone(), labels, stats, centroids;
      cv::Mat dark = binary < 128;
      int count = cv::connectedComponentsWithStats(dark, labels, stats, centroids, 8, CV_32S);
      bool cleared = false;
      for (int i = 1; i < count; ++i) {
        cv::Rect box(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                     stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
        bool on_edge = box.x == 0 || box.y == 0 || box.x + box.width == binary.cols ||
                       box.y + box.height == binary.rows;
        if (on_edge && box.height > 0.6 * binary.rows) {
          binary.setTo(255, labels == i);
          cleared = true;
        }
      }
      if (cleared) read(binary);
    }
    if (!sure()) {  // uneven backgrounds: a local threshold
      cv::Mat binary;
      int block = (std::max(15, size.height / 2)) | 1;
      cv::adaptiveThreshold(candidates[0].channel, binary, 255, cv::ADAPTIVE_THRESH_GAUSSIAN_C,
                            cv::THRESH_BINARY, block, 0);
      read(WhiteBackground(binary));
    }
    return best;
  }

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
      created->SetVariable("debug_file", "/dev/null");  // no "Estimating resolution" chatter
      engine = std::move(created);
    }
    return engine.get();
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewOcrMethod() { return std::make_unique<OcrMethod>(); }

}  // namespace sluice::methods
