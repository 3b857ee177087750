#include "db/catalog.h"

namespace sluice::db {

boost::json::object ItemToJson(const ItemRecord& item) {
  boost::json::object out{{"url", item.url}, {"status", ItemStatusName(item.status)}};
  if (item.status == ItemStatus::kOk) {
    out["final_url"] = item.final_url;
    out["sha256"] = item.sha256;
    out["size"] = item.size;
    out["mime"] = item.mime;
    out["kind"] = item.kind;
    out["store_key"] = item.store_key;
  } else {
    out["failure"] = {{"cause", item.failure_cause}, {"details", item.failure_details}};
  }
  return out;
}

std::string_view ItemStatusName(ItemStatus status) {
  return status == ItemStatus::kOk ? "ok" : "failed";
}

}  // namespace sluice::db
