#include "app/backends.h"

#include <cstdlib>

#include "common/strings.h"
#include "common/toml_file.h"

namespace sluice::app {

Result<Backends> ResolveBackends(Backends flags, const std::filesystem::path& config_file) {
  auto from_environment = [](std::string& value, const char* name) {
    const char* set = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): main thread
    if (value.empty() && set && *set) value = set;
  };
  from_environment(flags.db, "SLUICE_DB");
  from_environment(flags.store, "SLUICE_STORE");
  if (config_file.empty() || (!flags.db.empty() && !flags.store.empty())) return flags;
  SLUICE_ASSIGN_OR_RETURN(TomlFile config, TomlFile::Parse(config_file, "config file"));
  const toml::node* backends = config.root().get("backends");
  if (backends == nullptr) return flags;
  auto at = [&](const toml::node& node, std::string_view what) {
    return config.ErrorAt(node, what);
  };
  if (!backends->is_table()) return at(*backends, "[backends] must be a table");
  for (const auto& [key, value] : *backends->as_table()) {
    std::string* target = key.str() == "db"      ? &flags.db
                          : key.str() == "store" ? &flags.store
                                                 : nullptr;
    if (target == nullptr)
      return at(value, StrCat("unknown key backends.", key.str(), " (known: db, store)"));
    if (!value.is_string()) return at(value, StrCat("backends.", key.str(), " must be a string"));
    if (target->empty()) *target = *value.value<std::string>();
  }
  return flags;
}

}  // namespace sluice::app
