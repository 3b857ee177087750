// Scores of one pipeline run over the quality corpus (bench/quality/make_corpus.py) against the
// truth it was generated with: OCR on the creatives (overall and per size class), near-duplicate
// pairs, shot cuts, defect spans and the transcript. What `sluice eval` prints and CI's floors
// (bench/quality/floors.json) hold.
//
// Thread-safe: pure functions.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::quality {

// What the run answered, by the corpus's own file names ("creatives/c001.png").
struct CorpusOutputs {
  // file -> method -> output, for the steps that succeeded.
  std::map<std::string, std::map<std::string, boost::json::object>> results;
  // file -> failure cause, for items that failed as a whole (not fetched, not decodable).
  std::map<std::string, std::string> failed_items;
  // method -> each item's step time in milliseconds.
  std::map<std::string, std::vector<double>> millis;
  // The set steps' outputs by method; near-duplicate members are named by url.
  boost::json::object set_results;
  // url -> file, to read the set results.
  std::map<std::string, std::string> file_of_url;
};

// The scores as one JSON object: {"ocr": {...}, "near_duplicates": {...}, "video": {...}}; a
// section is left out when the truth has nothing for it. InvalidArgument (cause "bad_truth")
// when `truth` is not the corpus's truth.json.
Result<boost::json::object> ScoreCorpus(const boost::json::object& truth,
                                        const CorpusOutputs& outputs);

// The scores as a table a person reads: one line per score.
std::string ScoreTable(const boost::json::object& scores);

// Each score below its floor or above its ceiling, as a sentence; empty when all hold.
// `floors` is {"min": {"ocr.word_recall": 0.9, ...}, "max": {"video.transcript_wer": 0.3}},
// keys being dotted paths into the scores; a floor whose score is missing is a violation too.
std::vector<std::string> FloorViolations(const boost::json::object& scores,
                                         const boost::json::object& floors);

}  // namespace sluice::quality
