// A set's results as the people reading them see them (`sluice results`, the HTTP API): each
// item with every method's result (or failure) and the files steps made.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "db/catalog.h"

namespace sluice::db {

// {set, items, ok, failed, bytes}
boost::json::object SetTotalsToJson(const SetTotals& totals);

struct SetResults {
  // Each method's output, or {"failure": {cause, details}}, by URL then method; set steps have
  // URL "".
  std::map<std::string, boost::json::object> steps_by_url;
  // Files the steps made (keyframes, clips, thumbnails): artifact name → store key, by URL then
  // method.
  std::map<std::string, boost::json::object> artifacts_by_url;
};
SetResults GroupSetResults(const std::vector<StepRow>& steps);

// ItemToJson with "steps" and, when it has any, "artifacts".
boost::json::object ItemResultsToJson(const ItemRecord& item, const SetResults& results);

}  // namespace sluice::db
