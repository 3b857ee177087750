#include "cli/verify_commands.h"

#include <boost/json/serialize.hpp>
#include <cstdio>

#include "app/compose.h"
#include "common/redact.h"
#include "common/strings.h"
#include "pipeline/verify.h"

namespace sluice::cli {

int VerifyStore(VerifyConfig config) {
  Result<std::unique_ptr<app::Process>> process = app::Process::Create();
  if (!process.ok()) return Fail(kExitFatal, process.status());
  Result<app::DataDir> data =
      app::OpenData(config.where.data, **process, {config.where.db, config.where.store},
                    config.where.config, /*existing=*/true);
  if (!data.ok()) {
    return Fail(CauseOf(data.status()) == "no_data" ? kExitBadInput : kExitFatal, data.status());
  }
  std::unique_ptr<app::MethodStack> no_methods = app::NoMethods();
  pipeline::SetParts parts = app::SetPartsOf(**process, *data, *no_methods);
  bool tty = isatty(fileno(stderr));
  auto progress = [tty](int64_t checked) {
    if (tty && checked % 100 == 0)
      std::fprintf(stderr, "\rverify: %lld objects read", static_cast<long long>(checked));
  };
  Result<pipeline::VerifyReport> report = (*process)->runtime.Run(pipeline::VerifyObjects(
      parts, {.set = config.set, .repair = config.repair, .fetch = config.fetch}, progress));
  if (tty) std::fprintf(stderr, "\r");
  if (!report.ok()) return Fail(kExitFatal, report.status());
  int64_t unrepaired = 0;
  for (const pipeline::ObjectProblem& problem : report->problems) {
    if (problem.repair != "repaired") ++unrepaired;
    if (config.json) continue;
    std::printf("%-8s %s  %s (set %s)%s%s\n", problem.problem.c_str(), problem.key.c_str(),
                RedactSecrets(problem.url).c_str(), problem.set.c_str(),
                problem.repair.empty() ? "" : ": ", RedactSecrets(problem.repair).c_str());
  }
  if (config.json) {
    boost::json::array problems;
    for (const pipeline::ObjectProblem& problem : report->problems) {
      problems.push_back({{"set", problem.set},
                          {"url", RedactSecrets(problem.url)},
                          {"key", problem.key},
                          {"problem", problem.problem},
                          {"repair", problem.repair}});
    }
    std::printf("%s\n",
                boost::json::serialize(boost::json::object{{"checked", report->checked},
                                                           {"bytes", report->bytes},
                                                           {"problems", std::move(problems)},
                                                           {"repaired", report->repaired}})
                    .c_str());
  } else {
    std::printf("verify: %lld objects (%s) read from %s: %lld missing or damaged, %lld repaired\n",
                static_cast<long long>(report->checked), HumanBytes(report->bytes).c_str(),
                data->objects().c_str(), static_cast<long long>(report->problems.size()),
                static_cast<long long>(report->repaired));
    if (unrepaired > 0 && !config.repair)
      std::printf("verify: `sluice verify --repair` fetches them again from their URLs\n");
  }
  return unrepaired > 0 ? kExitFatal : kExitOk;
}

}  // namespace sluice::cli
