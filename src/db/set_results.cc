#include "db/set_results.h"

#include <boost/json/parse.hpp>

namespace sluice::db {

namespace json = boost::json;

json::object SetTotalsToJson(const SetTotals& totals) {
  return json::object{{"set", totals.set},
                      {"items", totals.items},
                      {"ok", totals.ok},
                      {"failed", totals.failed},
                      {"bytes", totals.bytes}};
}

SetResults GroupSetResults(const std::vector<StepRow>& steps) {
  SetResults out;
  for (const StepRow& step : steps) {
    boost::system::error_code ec;
    if (step.ok && !step.artifacts_json.empty() && step.artifacts_json != "{}") {
      json::value artifacts = json::parse(step.artifacts_json, ec);
      if (!ec && artifacts.is_object() && !artifacts.as_object().empty())
        out.artifacts_by_url[step.url][step.method] = artifacts;
    }
    ec.clear();
    json::value value =
        step.ok
            ? json::parse(step.output_json, ec)
            : json::value(json::object{
                  {"failure", {{"cause", step.failure_cause}, {"details", step.failure_details}}}});
    out.steps_by_url[step.url][step.method] = ec ? json::value(step.output_json) : value;
  }
  return out;
}

json::object ItemResultsToJson(const ItemRecord& item, const SetResults& results) {
  json::object row = ItemToJson(item);
  auto steps = results.steps_by_url.find(item.url);
  row["steps"] = steps == results.steps_by_url.end() ? json::object{} : steps->second;
  if (auto made = results.artifacts_by_url.find(item.url); made != results.artifacts_by_url.end())
    row["artifacts"] = made->second;
  return row;
}

}  // namespace sluice::db
