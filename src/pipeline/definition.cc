#include "pipeline/definition.h"

#include <toml++/toml.h>

#include <boost/json/parse.hpp>
#include <set>

#include "common/strings.h"
#include "common/toml_file.h"

namespace sluice::pipeline {
namespace {

// Compares numbers as doubles, strings and booleans exactly.
int Compare(const json::value& a, const json::value& b, bool& comparable) {
  comparable = true;
  if (a.is_number() && b.is_number()) {
    double x = a.to_number<double>(), y = b.to_number<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string())
    return a.as_string() < b.as_string() ? -1 : a.as_string() > b.as_string() ? 1 : 0;
  if (a.is_bool() && b.is_bool())
    return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
  comparable = false;
  return 0;
}

json::value FromToml(const toml::node& node) {
  if (auto v = node.as_integer()) return json::value(v->get());
  if (auto v = node.as_floating_point()) return json::value(v->get());
  if (auto v = node.as_boolean()) return json::value(v->get());
  if (auto v = node.as_string()) return json::value(v->get());
  if (auto array = node.as_array()) {
    json::array out;
    for (const auto& element : *array) out.push_back(FromToml(element));
    return out;
  }
  if (auto table = node.as_table()) {
    json::object out;
    for (const auto& [key, value] : *table) out[key.str()] = FromToml(value);
    return out;
  }
  return nullptr;
}

// Checks one step against the registry and what earlier steps produce. `made` holds the
// methods whose results exist by then.
Status CheckStep(StepDef& step, bool set_stage, const methods::Registry& registry,
                 const std::set<std::string>& made) {
  Result<const methods::MethodBase*> found = registry.Get(step.method);
  if (!found.ok()) return found.status();
  bool is_set = methods::IsSetMethod(*found);
  if (is_set != set_stage) {
    return absl::InvalidArgumentError(StrCat(step.method, " is ", is_set ? "a set" : "an item",
                                             " method; put it in [[cycle.", is_set ? "set" : "item",
                                             "]]"));
  }
  const methods::MethodSpec& spec = (*found)->spec();
  SLUICE_ASSIGN_OR_RETURN(step.params, methods::ResolveMethodParams(**found, step.params));
  for (MediaKind kind : step.kinds) {
    if (!methods::Accepts(spec, kind)) {
      return absl::InvalidArgumentError(
          StrCat(step.method, " does not take ", MediaKindName(kind), " items"));
    }
  }
  for (const std::string& input : spec.inputs) {
    std::optional<methods::ResultInput> needed = methods::ParseResultInput(input);
    if (needed && !needed->optional && !made.contains(std::string(needed->method))) {
      return absl::InvalidArgumentError(StrCat(step.method, " reads the result of ", needed->method,
                                               ", which no earlier step produces"));
    }
  }
  if (step.when && !made.contains(step.when->method)) {
    return absl::InvalidArgumentError(StrCat("condition '", step.when->text, "' reads ",
                                             step.when->method,
                                             ", which no earlier step produces"));
  }
  return absl::OkStatus();
}

// Validates in order, recording what each step makes; `where` names a step for messages.
Status CheckPipeline(PipelineDef& pipeline, const methods::Registry& registry,
                     const std::function<std::string(const StepDef&)>& where) {
  if (pipeline.cycles.empty()) return absl::InvalidArgumentError("the pipeline has no [[cycle]]");
  std::set<std::string> made;
  for (CycleDef& cycle : pipeline.cycles) {
    // Item steps may be listed in any order within a cycle: all of them are "earlier" than the
    // set steps, and among themselves they are ordered by what they read.
    std::set<std::string> in_cycle = made;
    for (const StepDef& step : cycle.item_steps) in_cycle.insert(step.method);
    std::set<std::string> seen;
    for (StepDef& step : cycle.item_steps) {
      if (!seen.insert(step.method).second) {
        return absl::InvalidArgumentError(
            StrCat(where(step), step.method, " appears twice in one cycle"));
      }
      std::set<std::string> others = in_cycle;
      others.erase(step.method);
      if (Status s = CheckStep(step, false, registry, others); !s.ok()) {
        return absl::InvalidArgumentError(StrCat(where(step), s.message()));
      }
    }
    made = in_cycle;
    for (StepDef& step : cycle.set_steps) {
      if (Status s = CheckStep(step, true, registry, made); !s.ok()) {
        return absl::InvalidArgumentError(StrCat(where(step), s.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

Result<Condition> Condition::Parse(std::string_view text) {
  Condition c;
  c.text = std::string(Trim(text));
  std::vector<std::string_view> parts;
  for (std::string_view part : Split(c.text, " ")) {
    if (!part.empty()) parts.push_back(part);
  }
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("condition '", c.text, "': ", why,
               " (expected e.g. \"image.faces.count > 0\" or \"ocr.tesseract.text exists\")"));
  };
  if (parts.size() < 2) return bad("too short");
  std::vector<std::string_view> path = Split(parts[0], ".");
  if (path.size() < 3) return bad("the left side must be <method>.<field>, e.g. image.faces.count");
  c.method = StrCat(path[0], ".", path[1]);
  for (size_t i = 2; i < path.size(); ++i) c.path.emplace_back(path[i]);
  c.op = std::string(parts[1]);
  if (c.op == "exists") {
    if (parts.size() != 2) return bad("nothing may follow 'exists'");
    return c;
  }
  static const std::set<std::string> kOps = {"==", "!=", ">", ">=", "<", "<="};
  if (!kOps.contains(c.op)) return bad(StrCat("unknown operator '", c.op, "'"));
  std::string literal;
  for (size_t i = 2; i < parts.size(); ++i) StrAppend(literal, i > 2 ? " " : "", parts[i]);
  if (literal.empty()) return bad("no value to compare with");
  if (literal.size() >= 2 && literal.front() == '\'' && literal.back() == '\'') {
    c.literal = literal.substr(1, literal.size() - 2);
    return c;
  }
  boost::system::error_code ec;
  c.literal = boost::json::parse(literal, ec);
  if (ec || !(c.literal.is_number() || c.literal.is_bool() || c.literal.is_string())) {
    return bad(StrCat("'", literal, "' is not a number, true/false or quoted text"));
  }
  return c;
}

bool Condition::Holds(const json::object& results) const {
  const json::value* at = results.if_contains(method);
  for (const std::string& field : path) {
    const json::object* object = at ? at->if_object() : nullptr;
    at = object ? object->if_contains(field) : nullptr;
  }
  if (!at) return false;
  if (op == "exists") return !at->is_null();
  bool comparable = false;
  int order = Compare(*at, literal, comparable);
  if (!comparable) return op == "!=";
  if (op == "==") return order == 0;
  if (op == "!=") return order != 0;
  if (op == ">") return order > 0;
  if (op == ">=") return order >= 0;
  if (op == "<") return order < 0;
  return order <= 0;
}

namespace {

// Item steps named in order, each for the kinds given (empty: what the method takes).
struct BuiltinStep {
  const char* method;
  std::vector<MediaKind> kinds;
};

PipelineDef Built(std::string name, const methods::Registry& registry,
                  const std::vector<BuiltinStep>& item_steps,
                  const std::vector<const char*>& set_steps) {
  PipelineDef pipeline{.name = std::move(name)};
  CycleDef cycle;
  // A registry without some built-in method (a test's) runs the rest.
  for (const BuiltinStep& step : item_steps) {
    if (registry.Find(step.method))
      cycle.item_steps.push_back({.method = step.method, .kinds = step.kinds});
  }
  for (const char* method : set_steps) {
    if (registry.Find(method)) cycle.set_steps.push_back({.method = method});
  }
  pipeline.cycles.push_back(std::move(cycle));
  // The built-in steps are valid by construction; this fills in their default params.
  Status valid = CheckPipeline(pipeline, registry, [](const StepDef&) { return std::string(); });
  (void)valid;
  return pipeline;
}

// The local steps of the default pipeline: images, then videos and audio (one decoding pass).
const std::vector<BuiltinStep>& LocalSteps() {
  static const std::vector<BuiltinStep> steps = {
      {"media.probe", {}}, {"image.phash", {}},   {"image.colors", {}},    {"image.thumbnail", {}},
      {"image.faces", {}}, {"ocr.tesseract", {}}, {"image.embedding", {}}, {"image.safety", {}},
      {"video.shots", {}}, {"video.defects", {}}, {"audio.transcript", {}}};
  return steps;
}

// The set steps of the default pipeline.
const std::vector<const char*> kSetSteps = {"set.near_duplicates", "set.summary",
                                            "set.video_summary"};

}  // namespace

PipelineDef DefaultPipeline(const methods::Registry& registry) {
  return Built("default", registry, LocalSteps(), kSetSteps);
}

Result<PipelineDef> BuiltinPipeline(std::string_view name, const methods::Registry& registry) {
  if (name == "default") return DefaultPipeline(registry);
  if (name == "video") {
    std::vector<BuiltinStep> steps = LocalSteps();
    const std::vector<MediaKind> video = {MediaKind::kVideo};
    for (const char* method : {"llm.content_type", "llm.describe", "llm.clips", "video.clips"})
      steps.push_back({method, video});
    return Built("video", registry, steps, kSetSteps);
  }
  if (name == "defects") {
    return Built("defects", registry, {{"media.probe", {}}, {"video.defects", {}}},
                 {"set.video_summary"});
  }
  std::string names;
  for (const std::string& known : BuiltinPipelineNames())
    StrAppend(names, names.empty() ? "" : ", ", known);
  return Failure(absl::StatusCode::kNotFound, "unknown_pipeline",
                 StrCat("no built-in pipeline '", name, "' (built in: ", names, ")"));
}

std::vector<std::string> BuiltinPipelineNames() { return {"default", "video", "defects"}; }

Status ValidatePipeline(const PipelineDef& pipeline, const methods::Registry& registry) {
  PipelineDef copy = pipeline;
  return CheckPipeline(copy, registry,
                       [](const StepDef& step) { return StrCat("step ", step.method, ": "); });
}

Result<PipelineDef> LoadPipelineFile(const std::filesystem::path& file,
                                     const methods::Registry& registry) {
  SLUICE_ASSIGN_OR_RETURN(TomlFile parsed, TomlFile::Parse(file, "pipeline file"));
  const toml::table& root = parsed.root();
  std::string prefix = parsed.name();
  auto at = [&](const toml::node& node, std::string_view what) {
    return parsed.ErrorAt(node, what);
  };
  PipelineDef pipeline;
  pipeline.name = root["name"].value_or(file.stem().string());
  for (const auto& [key, value] : root) {
    if (key.str() != "name" && key.str() != "cycle") {
      return at(value, StrCat("unknown key '", key.str(), "' (a pipeline has: name, [[cycle]])"));
    }
  }
  const toml::array* cycles = root["cycle"].as_array();
  if (!cycles) return parsed.Error("the pipeline has no [[cycle]]");
  for (const toml::node& cycle_node : *cycles) {
    const toml::table* cycle_table = cycle_node.as_table();
    if (!cycle_table) return at(cycle_node, "[[cycle]] must be a table");
    CycleDef cycle;
    for (const auto& [stage, steps_node] : *cycle_table) {
      if (stage.str() != "item" && stage.str() != "set") {
        return at(steps_node, StrCat("unknown key '", stage.str(),
                                     "' in a cycle (a cycle has: [[cycle.item]], [[cycle.set]])"));
      }
      const toml::array* steps = steps_node.as_array();
      if (!steps) return at(steps_node, StrCat("use [[cycle.", stage.str(), "]] for each step"));
      for (const toml::node& step_node : *steps) {
        const toml::table* step_table = step_node.as_table();
        if (!step_table) return at(step_node, "a step must be a table");
        StepDef step;
        step.line = static_cast<int>(step_node.source().begin.line);
        for (const auto& [field, value] : *step_table) {
          std::string_view name = field.str();
          if (name == "method") {
            if (!value.is_string()) return at(value, "method must be text");
            step.method = *value.value<std::string>();
          } else if (name == "params") {
            if (!value.is_table())
              return at(value, "params must be a table, e.g. params = { colors = 3 }");
            step.params = FromToml(value).as_object();
          } else if (name == "kinds" && stage.str() == "item") {
            const toml::array* kinds = value.as_array();
            if (!kinds) return at(value, "kinds must be a list, e.g. kinds = [\"image\"]");
            for (const toml::node& kind : *kinds) {
              std::optional<MediaKind> parsed = MediaKindFromName(kind.value_or(std::string()));
              if (!parsed) return at(kind, "kinds are \"image\", \"video\" or \"audio\"");
              step.kinds.push_back(*parsed);
            }
          } else if (name == "when" && stage.str() == "item") {
            Result<Condition> condition = Condition::Parse(value.value_or(std::string()));
            if (!condition.ok()) return at(value, std::string(condition.status().message()));
            step.when = std::move(*condition);
          } else {
            return at(value, StrCat("unknown key '", name, "' in a ", stage.str(),
                                    " step (it has: method, params",
                                    stage.str() == "item" ? ", kinds, when)" : ")"));
          }
        }
        if (step.method.empty()) return at(step_node, "the step has no method");
        (stage.str() == "item" ? cycle.item_steps : cycle.set_steps).push_back(std::move(step));
      }
    }
    pipeline.cycles.push_back(std::move(cycle));
  }
  SLUICE_RETURN_IF_ERROR(CheckPipeline(pipeline, registry, [&](const StepDef& step) {
    return StrCat(prefix, ":", step.line, ": ");
  }));
  return pipeline;
}

}  // namespace sluice::pipeline
