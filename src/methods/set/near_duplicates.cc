// set.near_duplicates: copies of one picture grouped by perceptual hash, aligned thumbnail and
// the words OCR read.
#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "common/disjoint_sets.h"
#include "common/strings.h"
#include "methods/set/set_methods.h"

namespace sluice::methods {
namespace {

// Bilinear sample of a kThumbSide² picture at (x, y), clamped to its edge.
float Sample(const std::vector<float>& picture, double x, double y) {
  constexpr int n = kThumbSide;
  x = std::clamp(x, 0.0, n - 1.0);
  y = std::clamp(y, 0.0, n - 1.0);
  int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
  int x1 = std::min(x0 + 1, n - 1), y1 = std::min(y0 + 1, n - 1);
  double fx = x - x0, fy = y - y0;
  auto at = [&](int xx, int yy) { return picture[static_cast<size_t>(yy * n + xx)]; };
  return static_cast<float>((1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) +
                            fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1)));
}

// Levels made comparable across a brightness or contrast change: zero mean, unit spread.
void Normalise(std::vector<float>& levels) {
  double mean = 0, squares = 0;
  for (float v : levels) mean += v;
  mean /= static_cast<double>(levels.size());
  for (float v : levels) squares += (v - mean) * (v - mean);
  double spread = std::sqrt(squares / static_cast<double>(levels.size()));
  for (float& v : levels) v = spread < 1 ? 0.0f : static_cast<float>((v - mean) / spread);
}

// How much two thumbnails differ once aligned: the least, over centred crops of either (scales
// 1 to 0.9, shifted by up to half a pixel), of the mean absolute difference of their inner
// pixels' normalised levels. Resized and re-encoded copies differ by ~0.0-0.1, crops and colour
// shifts by up to ~0.3 (bench/quality), unrelated pictures mostly by 0.4 and more.
double ThumbDifference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  constexpr int n = kThumbSide, margin = 2;
  std::vector<float> fa(a.begin(), a.end()), fb(b.begin(), b.end());
  double best = std::numeric_limits<double>::infinity();
  const double centre = (n - 1) / 2.0;
  for (bool crop_a : {true, false}) {
    const std::vector<float>& cropped = crop_a ? fa : fb;
    const std::vector<float>& whole = crop_a ? fb : fa;
    std::vector<float> inner;
    for (int r = margin; r < n - margin; ++r) {
      for (int c = margin; c < n - margin; ++c)
        inner.push_back(whole[static_cast<size_t>(r * n + c)]);
    }
    Normalise(inner);
    for (double scale : {1.0, 0.965, 0.93, 0.9}) {
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          std::vector<float> x;
          x.reserve(inner.size());
          for (int r = margin; r < n - margin; ++r) {
            for (int c = margin; c < n - margin; ++c) {
              x.push_back(Sample(cropped, centre + (c - centre) * scale + dx * 0.5,
                                 centre + (r - centre) * scale + dy * 0.5));
            }
          }
          Normalise(x);
          double total = 0;
          for (size_t i = 0; i < x.size(); ++i) total += std::abs(x[i] - inner[i]);
          best = std::min(best, total / static_cast<double>(x.size()));
        }
      }
    }
  }
  return best;
}

// Text as the comparison below reads it: lower case letters, digits and '%' only.
std::string Letters(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '%') out.push_back(static_cast<char>(std::tolower(u)));
  }
  return out;
}

// A word's shape: its letters as 'a', digits as '0', the rest as they are ("30%" → "00%").
std::string ShapeOf(std::string_view word) {
  std::string shape;
  for (char c : word)
    shape += std::isdigit(static_cast<unsigned char>(c))   ? '0'
             : std::isalpha(static_cast<unsigned char>(c)) ? 'a'
                                                           : c;
  return shape;
}

// Whether a word holds a digit ("30%", "2for1").
bool IsNumber(std::string_view word) {
  return std::any_of(word.begin(), word.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// What OCR read in a picture: its lines, as Letters(), and all of its text; its main lines
// (those read surely, of three letters or more, at least half the area of the largest such:
// the headline, whatever its height; what tells creatives of one template apart), the
// largest first.
struct ReadWord {
  std::string text;  // as Letters()
  bool sure = true;  // read with confidence 80 or more
};
struct ReadLine {
  std::string text;
  double width = 0, height = 0;
  bool sure = false;  // read with confidence 80 or more, of three letters or more
  std::vector<ReadWord> words;
};
struct ReadText {
  std::vector<ReadLine> lines;
  std::vector<size_t> main;  // indexes into lines, the largest first
  std::string all;
  // The shapes (ShapeOf) of the numbers read unsurely: words with a digit.
  std::vector<std::string> unsure_number_shapes;
};
ReadText TextOf(const json::value* ocr) {
  ReadText out;
  const json::object* result = ocr ? ocr->if_object() : nullptr;
  const json::value* lines = result ? result->if_contains("lines") : nullptr;
  if (!lines || !lines->is_array()) return out;
  // A line's words are the next ones of "words" (ocr.tesseract lists them line by line), as
  // its text is them joined by spaces.
  const json::value* words_value = result->if_contains("words");
  const json::array* words = words_value ? words_value->if_array() : nullptr;
  size_t next_word = 0;
  std::vector<std::pair<double, size_t>> sure;  // (area, line)
  double largest = 0;
  for (const json::value& line : lines->as_array()) {
    const json::value& box = line.at("box");
    ReadLine read{.text = Letters(line.at("text").as_string()),
                  .width = box.at("w").to_number<double>(),
                  .height = box.at("h").to_number<double>()};
    for (std::string_view token : Split(line.at("text").as_string(), " ")) {
      ReadWord word{.text = Letters(token)};
      const json::object* listed =
          words && next_word < words->size() ? (*words)[next_word].if_object() : nullptr;
      if (listed && listed->contains("text") && listed->at("text").as_string() == token &&
          listed->contains("confidence")) {
        word.sure = listed->at("confidence").to_number<double>() >= 80;
        ++next_word;
      }
      if (!word.sure && IsNumber(word.text)) out.unsure_number_shapes.push_back(ShapeOf(word.text));
      read.words.push_back(std::move(word));
    }
    out.all += read.text;
    const json::value* confidence = line.as_object().if_contains("confidence");
    read.sure = !(confidence && confidence->to_number<double>() < 80) && read.text.size() >= 3;
    double area = read.width * read.height;
    if (read.sure) {
      largest = std::max(largest, area);
      sure.emplace_back(area, out.lines.size());
    }
    out.lines.push_back(std::move(read));
  }
  std::sort(sure.begin(), sure.end(), std::greater<>());
  for (auto [area, line] : sure) {
    if (area >= 0.5 * largest) out.main.push_back(line);
  }
  return out;
}

// Whether `needle` occurs in `haystack` with at most `misread` of its letters misread: the least
// edit cost of `needle` against any stretch of `haystack` (approximate substring matching). A
// digit costs thrice to drop, add or read as another digit: "30% OFF" is not "50% OFF", nor is
// it "0% OFF" found inside "70% OFF".
bool FoundIn(const std::string& needle, const std::string& haystack, double misread = 0.2) {
  auto cost = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) ? 3.0 : 1.0; };
  std::vector<double> row(haystack.size() + 1, 0);  // a match may start anywhere
  for (size_t i = 1; i <= needle.size(); ++i) {
    char a = needle[i - 1];
    double diagonal = row[0];
    row[0] += cost(a);
    for (size_t j = 1; j <= haystack.size(); ++j) {
      double above = row[j];
      char b = haystack[j - 1];
      bool digits = cost(a) == 3 && cost(b) == 3;
      double substitute = diagonal + (a == b ? 0 : digits ? 3 : 1);
      row[j] = std::min({row[j] + cost(a), row[j - 1] + cost(b), substitute});
      diagonal = above;
    }
  }
  return *std::min_element(row.begin(), row.end()) <= misread * static_cast<double>(needle.size());
}

// What two pictures' texts say of them: the same words, other words (look-alikes: one
// template, another headline), or nothing to tell (OCR read no main line surely in one).
enum class Words { kSame, kUnknown, kOther };

// Text narrower than this (pixels per letter) is not expected to be read: a copy resized to
// half keeps its headline legible and loses its small print. (Widths, not heights: a line's
// height varies with the letters and marks OCR took into its box.)
constexpr double kLegibleLetterWidth = 5;
// A line found with up to this share of its letters misread is garbled, not other words:
// look-alikes differ by whole words, OCR on a poor copy by a few letters ("WINTER STYLE"
// read as "wi -R STYLE").
constexpr double kGarbled = 0.3;

// Whether `line` (of one picture) is found in `b` once the numbers that may have been misread
// are left out: those read unsurely in the line, and those of the shape of a number b read
// unsurely ("30%" read surely here and unsurely as "90%" there; OCR confuses 3, 5 and 9 in
// heavy fonts). A number read surely in both counts: "30% OFF" and "50% OFF" are other words.
bool ApartOnlyByUnsureNumbers(const ReadLine& line, const ReadText& b) {
  std::string rest;
  bool left_out = false;
  for (const ReadWord& word : line.words) {
    if (IsNumber(word.text) &&
        (!word.sure || std::find(b.unsure_number_shapes.begin(), b.unsure_number_shapes.end(),
                                 ShapeOf(word.text)) != b.unsure_number_shapes.end())) {
      left_out = true;
    } else {
      rest += word.text;
    }
  }
  return left_out && rest.size() >= 3 && FoundIn(rest, b.all);
}

// The first of b's lines that reads like `line` — `line` found in it with at most `misread` of
// its letters misread —, both of eight letters or more: a short word is found in too many
// places ("Loka" in "Zenloka").
const ReadLine* LongLineLike(const ReadLine& line, const ReadText& b, double misread) {
  if (line.text.size() < 8) return nullptr;
  for (const ReadLine& other : b.lines)
    if (other.text.size() >= 8 && FoundIn(line.text, other.text, misread)) return &other;
  return nullptr;
}

// Whether `b` shows the main lines of `a`: kOther when one that b would show legibly — at the
// scale a line read in both gives (a resized copy) — is not found in b's text, not even
// garbled, and b read nothing like it there; kUnknown when it is found only garbled, or b
// read it only unsurely (a line of its size and of letters half alike: the line misread), or
// when a line as large that a read unsurely is not found in b (more text than a's sure
// lines); else kSame.
Words ShowsMainLines(const ReadText& a, const ReadText& b) {
  // The scale: from the first of a's lines, main ones first, that b read too.
  std::optional<double> scale_found;
  auto scale_from = [&](const ReadLine& line) {
    const ReadLine* match = scale_found ? nullptr : LongLineLike(line, b, kGarbled);
    if (match && line.width > 0) scale_found = match->width / line.width;
  };
  for (size_t i : a.main) scale_from(a.lines[i]);
  for (const ReadLine& line : a.lines) scale_from(line);
  double scale = scale_found.value_or(1);
  auto legible = [&](const ReadLine& line) {
    return line.width * scale >= kLegibleLetterWidth * static_cast<double>(line.text.size());
  };
  Words shown = Words::kSame;
  for (size_t i : a.main) {
    const ReadLine& line = a.lines[i];
    if (!legible(line) || FoundIn(line.text, b.all)) continue;
    if (FoundIn(line.text, b.all, kGarbled) || ApartOnlyByUnsureNumbers(line, b)) {
      shown = Words::kUnknown;
      continue;
    }
    bool misread = std::any_of(b.lines.begin(), b.lines.end(), [&](const ReadLine& other) {
      return !other.sure && other.text.size() >= 3 &&
             std::abs(other.width - line.width * scale) <= 0.25 * line.width * scale &&
             std::abs(other.height - line.height * scale) <= 0.5 * line.height * scale &&
             FoundIn(line.text, other.text, 0.5);
    });
    // Other words are a line of b as large; with none, OCR missed the line in b.
    bool missed = std::none_of(b.lines.begin(), b.lines.end(), [&](const ReadLine& other) {
      return other.width * other.height >= 0.5 * line.width * line.height * scale * scale;
    });
    if (!misread && !missed) return Words::kOther;
    shown = Words::kUnknown;
  }
  const ReadLine& smallest_main = a.lines[a.main.back()];
  for (const ReadLine& line : a.lines) {
    if (!line.sure && line.text.size() >= 3 &&
        line.width * line.height >= smallest_main.width * smallest_main.height && legible(line) &&
        !FoundIn(line.text, b.all))
      shown = Words::kUnknown;
  }
  return shown;
}

// Whether the two read a line of eight letters or more alike (copies share their headline or
// their small print).
bool ShareALine(const ReadText& a, const ReadText& b) {
  auto alike_in = [](const ReadText& from, const ReadText& in) {
    return std::any_of(from.lines.begin(), from.lines.end(), [&](const ReadLine& line) {
      return LongLineLike(line, in, 0.2) != nullptr;
    });
  };
  return alike_in(a, b) || alike_in(b, a);
}

Words CompareWords(const ReadText& a, const ReadText& b) {
  if (a.main.empty() || b.main.empty()) return Words::kUnknown;
  // Both read lines surely and none alike: other creatives.
  if (!ShareALine(a, b)) return Words::kOther;
  Words ab = ShowsMainLines(a, b), ba = ShowsMainLines(b, a);
  if (ab == Words::kOther || ba == Words::kOther) return Words::kOther;
  return ab == Words::kSame && ba == Words::kSame ? Words::kSame : Words::kUnknown;
}

// Groups of near pictures from the pairs that may join: single linkage, except that two groups
// never merge while a picture of one has other words than a picture of the other — so a copy
// whose text OCR could not read joins its own group, not every look-alike of the template as
// well. Pairs join in order of trust: the same words before unknown ones, then the closest
// thumbnails first.
struct NearPair {
  size_t a, b;
  Words words;
  double difference;
};
DisjointSets GroupNear(size_t count, std::vector<NearPair> pairs) {
  std::vector<std::vector<size_t>> other_words(count);
  for (const NearPair& pair : pairs) {
    if (pair.words != Words::kOther) continue;
    other_words[pair.a].push_back(pair.b);
    other_words[pair.b].push_back(pair.a);
  }
  std::erase_if(pairs, [](const NearPair& pair) { return pair.words == Words::kOther; });
  std::sort(pairs.begin(), pairs.end(), [](const NearPair& x, const NearPair& y) {
    return std::tie(x.words, x.difference) < std::tie(y.words, y.difference);
  });
  DisjointSets groups(count);
  std::vector<std::vector<size_t>> members(count);
  for (size_t i = 0; i < count; ++i) members[i] = {i};
  for (const NearPair& pair : pairs) {
    size_t root_a = groups.Find(pair.a), root_b = groups.Find(pair.b);
    if (root_a == root_b) continue;
    if (members[root_a].size() > members[root_b].size()) std::swap(root_a, root_b);
    bool apart = std::any_of(members[root_a].begin(), members[root_a].end(), [&](size_t m) {
      return std::any_of(other_words[m].begin(), other_words[m].end(),
                         [&](size_t o) { return groups.Find(o) == root_b; });
    });
    if (apart) continue;
    groups.Join(root_a, root_b);
    size_t root = groups.Find(root_a), gone = root == root_a ? root_b : root_a;
    members[root].insert(members[root].end(), members[gone].begin(), members[gone].end());
    members[gone].clear();
  }
  return groups;
}

class NearDuplicatesMethod : public SetMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "set.near_duplicates",
        .version = 4,
        .inputs = {"set", "result:image.phash", "result?:ocr.tesseract"},
        .output = "set",
        .description =
            "Groups copies of one picture (resized, re-encoded, cropped, recoloured, "
            "with a sticker): perceptual hashes within max_distance bits, thumbnails "
            "within max_thumb_difference once aligned, and no other words where OCR "
            "read both (a group never takes in a picture with other words than one of "
            "its own); and finds near images held by other sets through the "
            "hash index (within known_max_distance bits)",
        // Chosen on bench/quality's corpus (design note 36).
        .params = {{"max_distance", 24},
                   {"max_thumb_difference", 0.3},
                   {"known_max_distance", 10},
                   {"across_sets", true},
                   {"known_per_image", 5}}};
    return spec;
  }

  // Checked when the pipeline loads, and again for a method run alone.
  static Status CheckRanges(const json::object& params) {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_distance", 0, 64));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_thumb_difference", 0, 10));
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "known_max_distance", 0, 64));
    return RequireRange(params, "known_per_image", 1, 100);
  }
  Status CompleteParams(json::object& params) const override { return CheckRanges(params); }

  Result<SetOutput> Run(const std::vector<SetItem>& items, const json::object& params,
                        const SetScope& scope) const override {
    SLUICE_RETURN_IF_ERROR(CheckRanges(params));
    int max_distance = static_cast<int>(NumberParam(params, "max_distance"));
    double max_difference = NumberParam(params, "max_thumb_difference");
    std::vector<size_t> hashed;
    std::vector<uint64_t> hashes;
    std::vector<std::optional<std::vector<uint8_t>>> thumbs;
    std::vector<ReadText> texts;
    for (size_t i = 0; i < items.size(); ++i) {
      const json::value* phash = items[i].results.if_contains("image.phash");
      std::optional<uint64_t> value = phash ? HashOf(*phash) : std::nullopt;
      if (!value) continue;
      hashed.push_back(i);
      hashes.push_back(*value);
      thumbs.push_back(ThumbOf(*phash));
      texts.push_back(TextOf(items[i].results.if_contains("ocr.tesseract")));
    }
    // Within the set, every close pair: n² comparisons of 64-bit words (a hundred thousand
    // images take seconds); other sets are searched through the index.
    std::vector<NearPair> pairs;
    for (size_t a = 0; a < hashed.size(); ++a) {
      for (size_t b = a + 1; b < hashed.size(); ++b) {
        if (std::popcount(hashes[a] ^ hashes[b]) > max_distance) continue;
        // Close hashes are checked by what the hash cannot see: the thumbnails aligned (when
        // both have one; hashes of older versions have none) and the main lines' words (when
        // OCR read them in both): the same template with other words is another creative.
        double difference = thumbs[a] && thumbs[b] ? ThumbDifference(*thumbs[a], *thumbs[b]) : 0;
        if (difference > max_difference) continue;
        pairs.push_back({a, b, CompareWords(texts[a], texts[b]), difference});
      }
    }
    DisjointSets sets = GroupNear(hashed.size(), std::move(pairs));
    std::map<size_t, json::array> groups;
    for (size_t i = 0; i < hashed.size(); ++i) {
      const SetItem& item = items[hashed[i]];
      groups[sets.Find(i)].push_back(json::object{{"url", item.url}, {"sha256", item.sha256}});
    }
    json::array out;
    int64_t grouped = 0;
    for (auto& [root, members] : groups) {
      if (members.size() < 2) continue;
      grouped += static_cast<int64_t>(members.size());
      out.push_back(std::move(members));
    }
    json::object value{{"groups", out},
                       {"items_in_groups", grouped},
                       {"images_compared", static_cast<int64_t>(hashed.size())}};
    if (params.at("across_sets").as_bool() && scope.known) {
      SLUICE_ASSIGN_OR_RETURN(
          std::vector<std::vector<KnownImage>> near,
          scope.known->Near("image.phash", hashes,
                            static_cast<int>(NumberParam(params, "known_max_distance")),
                            static_cast<int>(NumberParam(params, "known_per_image")), scope.set));
      json::array known;
      for (size_t i = 0; i < hashed.size(); ++i) {
        if (near.at(i).empty()) continue;
        json::array matches;
        for (const KnownImage& match : near[i]) {
          json::array holders;
          for (const KnownImage::Holder& holder : match.items)
            holders.push_back(json::object{{"set", holder.set}, {"url", holder.url}});
          matches.push_back(json::object{{"sha256", match.sha256},
                                         {"distance", match.distance},
                                         {"items", std::move(holders)}});
        }
        const SetItem& item = items[hashed[i]];
        known.push_back(json::object{
            {"url", item.url}, {"sha256", item.sha256}, {"matches", std::move(matches)}});
      }
      value["items_known"] = static_cast<int64_t>(known.size());
      value["known"] = std::move(known);
    }
    return SetOutput{.value = std::move(value)};
  }
};

}  // namespace

std::unique_ptr<MethodBase> NewNearDuplicatesMethod() {
  return std::make_unique<NearDuplicatesMethod>();
}

}  // namespace sluice::methods
