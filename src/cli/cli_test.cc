// Integration tests through the real `sluice` binary against a fault-injecting loopback origin:
// what a user sees (exit codes, --json, messages) and what lands in the data directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "common/sha256.h"
#include "common/strings.h"
#include "db/postgres/postgres_catalog.h"
#include "db/sqlite/sqlite_catalog.h"
#include "http/curl_client.h"
#include "http/loopback_server.h"
#include "http/request.h"
#include "runtime/runtime.h"
#include "storage/s3/s3_blob_store.h"
#include "testing/aws_fakes.h"
#include "testing/fake_provider.h"
#include "testing/fixtures.h"
#include "testing/origin.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;
using http::HttpReply;
using http::HttpRequest;
using http::ServeBytes;
using sluice::testing::ProcessResult;
using sluice::testing::ScriptedOrigin;

class CliTest : public ::testing::Test {
 protected:
  std::filesystem::path WriteList(const std::vector<std::string>& urls,
                                  const std::string& name = "urls.txt") {
    std::filesystem::path path = dir_.path() / name;
    std::ofstream out(path);
    for (const auto& url : urls) out << url << "\n";
    return path;
  }

  ProcessResult Sluice(std::vector<std::string> args) {
    args.insert(args.begin(), SLUICE_BINARY);
    return sluice::testing::RunProcess(args, dir_.path());
  }

  std::vector<std::string> RunArgs(const std::filesystem::path& list,
                                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run",           list.string(), "--data",
                                     data().string(), "--progress",  "lines"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::filesystem::path data() const { return dir_.path() / "data"; }

  std::map<std::string, db::ItemRecord> Items(const std::string& set) {
    auto catalog = db::SqliteCatalog::Open(data() / "sluice.db");
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    std::map<std::string, db::ItemRecord> by_url;
    Result<std::vector<db::ItemRecord>> items = (*catalog)->ListItems(set);
    EXPECT_TRUE(items.ok()) << items.status();
    for (auto& item : *items) by_url[item.url] = item;
    return by_url;
  }

  static boost::json::object Json(const std::string& out) {
    return boost::json::parse(out).as_object();
  }

  sluice::testing::TempDir dir_;
  ScriptedOrigin origin_;
};

TEST_F(CliTest, RunRecordsOkAndFailedItemsAndPrintsJson) {
  std::string good = ScriptedOrigin::MediaBody(40'000, 1),
              big = ScriptedOrigin::MediaBody(600'000, 2);
  origin_.Route("/good.jpg",
                [&](const HttpRequest& r, int) { return ServeBytes(r, good, "image/jpeg"); });
  origin_.Route("/same-bytes.jpg",
                [&](const HttpRequest& r, int) { return ServeBytes(r, good, "image/jpeg"); });
  origin_.Route("/dropped.jpg", [&](const HttpRequest& r, int call) {
    HttpReply reply = ServeBytes(r, big, "image/jpeg", "\"big\"");
    if (call == 0) reply.drop_after = 250'000;
    return reply;
  });
  origin_.Route("/busy.jpg", [&](const HttpRequest& r, int call) {
    if (call == 0) return HttpReply{.status = 429, .headers = {{"Retry-After", "1"}}};
    return ServeBytes(r, good, "image/jpeg");
  });
  origin_.Route("/page.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, "<!doctype html><title>login</title>", "image/jpeg");
  });
  origin_.Route("/loop", [](const HttpRequest&, int) {
    return HttpReply{.status = 301, .headers = {{"Location", "/loop"}}};
  });
  origin_.Route("/liar.jpg", [&](const HttpRequest& r, int) {
    HttpReply reply = ServeBytes(r, good, "image/jpeg");
    reply.declared_length = 90'000;
    return reply;
  });
  origin_.Route("/stall.jpg", [&](const HttpRequest& r, int) {
    HttpReply reply = ServeBytes(r, big, "image/jpeg");
    reply.stall_after = 1000;
    reply.stall_for = 5000ms;
    return reply;
  });
  std::vector<std::string> urls;
  for (const char* path : {"/good.jpg", "/same-bytes.jpg", "/dropped.jpg", "/busy.jpg",
                           "/missing.jpg", "/page.jpg", "/loop", "/liar.jpg", "/stall.jpg"}) {
    urls.push_back(origin_.Url(path));
  }
  ProcessResult run =
      Sluice(RunArgs(WriteList(urls), {"--allow-private", "--json", "--set", "brand-a",
                                       "--stall-timeout", "1", "--retries", "1"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  boost::json::object summary = Json(run.out);
  EXPECT_EQ(summary["set"].as_string(), "brand-a");
  EXPECT_EQ(summary["items"].as_int64(), 9);
  EXPECT_EQ(summary["ok"].as_int64(), 4);
  EXPECT_EQ(summary["failed"].as_int64(), 5);
  EXPECT_EQ(summary["bytes"].as_int64(), 40'000 * 3 + 600'000);
  EXPECT_TRUE(summary.contains("seconds"));

  std::map<std::string, db::ItemRecord> items = Items("brand-a");
  EXPECT_EQ(items[origin_.Url("/good.jpg")].status, db::ItemStatus::kOk);
  EXPECT_EQ(items[origin_.Url("/same-bytes.jpg")].store_key,
            items[origin_.Url("/good.jpg")].store_key);
  EXPECT_EQ(items[origin_.Url("/dropped.jpg")].status, db::ItemStatus::kOk);
  EXPECT_EQ(items[origin_.Url("/busy.jpg")].status, db::ItemStatus::kOk);
  EXPECT_EQ(items[origin_.Url("/missing.jpg")].failure_cause, "http_404");
  EXPECT_EQ(items[origin_.Url("/page.jpg")].failure_cause, "unsupported_content");
  EXPECT_EQ(items[origin_.Url("/loop")].failure_cause, "too_many_redirects");
  EXPECT_EQ(items[origin_.Url("/liar.jpg")].failure_cause, "truncated");
  EXPECT_EQ(items[origin_.Url("/stall.jpg")].failure_cause, "stalled");
  // The dropped body was resumed, not refetched.
  int ranged = 0;
  for (const auto& request : origin_.Log())
    ranged += request.path == "/dropped.jpg" && request.range == "bytes=250000-";
  EXPECT_EQ(ranged, 1);
  // Exactly the distinct contents are stored, nothing partial.
  size_t objects = 0;
  for (auto& entry : std::filesystem::recursive_directory_iterator(data() / "objects"))
    objects += entry.is_regular_file();
  EXPECT_EQ(objects, 2u);
}

TEST_F(CliTest, SsrfSpellingsAreRefusedWithoutAllowPrivate) {
  const std::string port = std::to_string(origin_.port());
  origin_.Route("/a.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(10), "image/jpeg");
  });
  std::vector<std::string> urls;
  for (const char* host : {"127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::1]",
                           "[::ffff:127.0.0.1]", "0.0.0.0", "localhost"}) {
    urls.push_back(std::string("http://") + host + ":" + port + "/a.jpg");
  }
  urls.push_back("file:///etc/passwd");
  urls.push_back("ftp://127.0.0.1/a.jpg");
  ProcessResult run = Sluice(RunArgs(WriteList(urls), {"--json"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Json(run.out)["failed"].as_int64(), static_cast<int64_t>(urls.size()));
  for (auto& [url, item] : Items("urls")) {
    if (url.starts_with("http://"))
      EXPECT_EQ(item.failure_cause, "blocked_address") << url;
    else
      EXPECT_EQ(item.failure_cause, "scheme_not_allowed") << url;
  }
  EXPECT_EQ(origin_.Log().size(), 0u) << "no request may reach a refused address";
  // The same list passes with --allow-private.
  ProcessResult allowed =
      Sluice(RunArgs(WriteList({origin_.Url("/a.jpg")}, "ok.txt"), {"--allow-private", "--json"}));
  EXPECT_EQ(Json(allowed.out)["ok"].as_int64(), 1) << allowed.err;
}

TEST_F(CliTest, KillNineThenRerunCompletesWithoutRefetchingCompletedItems) {
  constexpr int kItems = 300;
  std::vector<std::string> urls;
  // The first half is served at once; the second half is held back until long after the kill,
  // so the kill always lands mid-run however slow this machine is at the moment.
  auto served = std::make_shared<std::atomic<int>>(0);
  auto holding = std::make_shared<std::atomic<bool>>(true);
  for (int i = 0; i < kItems; ++i) {
    std::string path = "/slow/" + std::to_string(i) + ".jpg";
    origin_.Route(path, [i, served, holding](const HttpRequest& r, int) {
      HttpReply reply = ServeBytes(r, ScriptedOrigin::MediaBody(5000, i), "image/jpeg");
      bool held = *holding && served->fetch_add(1) >= kItems / 2;
      reply.delay = held ? 30s : 20ms;
      return reply;
    });
    urls.push_back(origin_.Url(path));
  }
  std::filesystem::path list = WriteList(urls);
  {
    sluice::testing::Subprocess first(
        {SLUICE_BINARY, "run", list.string(), "--data", data().string(), "--allow-private",
         "--concurrency", "8", "--progress", "none"},
        dir_.path());
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (origin_.Log().size() < kItems / 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    // ...and at least one batch of the first half is committed.
    while ((!std::filesystem::exists(data() / "sluice.db") || Items("urls").empty()) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    first.Kill(SIGKILL);
    *holding = false;
    EXPECT_EQ(first.Wait().exit_code, 128 + SIGKILL);
  }
  std::map<std::string, db::ItemRecord> before = Items("urls");
  ASSERT_GT(before.size(), 0u)
      << "the killed run recorded nothing; batches must commit while running";
  ASSERT_LT(before.size(), static_cast<size_t>(kItems))
      << "the kill came too late to test anything";
  origin_.ClearLog();

  ProcessResult rerun = Sluice(RunArgs(list, {"--allow-private", "--json"}));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  boost::json::object summary = Json(rerun.out);
  EXPECT_EQ(summary["items"].as_int64(), kItems);
  EXPECT_EQ(summary["ok"].as_int64(), kItems);
  EXPECT_EQ(summary["skipped"].as_int64(), static_cast<int64_t>(before.size()));
  std::set<std::string> refetched;
  for (const auto& request : origin_.Log()) refetched.insert(origin_.Url(request.path));
  for (const auto& [url, item] : before) {
    EXPECT_FALSE(item.status == db::ItemStatus::kOk && refetched.contains(url))
        << url << " was fetched again";
  }
  EXPECT_EQ(Items("urls").size(), static_cast<size_t>(kItems)) << "no duplicate or missing rows";
  // Nothing of the killed run's scratch files is left behind.
  std::filesystem::path temp = data() / ".tmp";
  for (auto& entry : std::filesystem::recursive_directory_iterator(temp)) {
    EXPECT_FALSE(entry.is_regular_file()) << entry.path();
  }
}

TEST_F(CliTest, InterruptRecordsWhatFinishedAndExits130) {
  std::vector<std::string> urls;
  for (int i = 0; i < 40; ++i) {
    std::string path = "/i/" + std::to_string(i) + ".jpg";
    origin_.Route(path, [i](const HttpRequest& r, int) {
      HttpReply reply = ServeBytes(r, ScriptedOrigin::MediaBody(2000, i), "image/jpeg");
      reply.delay = i < 4 ? 0ms : 60000ms;  // the first few finish, the rest hang
      return reply;
    });
    urls.push_back(origin_.Url(path));
  }
  std::filesystem::path list = WriteList(urls);
  sluice::testing::Subprocess run(
      {SLUICE_BINARY, "run", list.string(), "--data", data().string(), "--allow-private",
       "--concurrency", "40", "--per-host", "40", "--progress", "none"},
      dir_.path());
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (origin_.Log().size() < urls.size() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(700ms);  // past one record interval: the quick items are recorded
  auto sent = std::chrono::steady_clock::now();
  run.Kill(SIGINT);
  ProcessResult result = run.Wait();
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 20000ms)
      << "in-flight transfers were not aborted";
  EXPECT_NE(result.err.find("interrupted"), std::string::npos) << result.err;
  std::map<std::string, db::ItemRecord> items = Items("urls");
  EXPECT_EQ(items.size(), 4u)
      << "only finished items are recorded; interrupted ones are not failures";
  for (const auto& [url, item] : items) EXPECT_EQ(item.status, db::ItemStatus::kOk) << url;
}

TEST_F(CliTest, SecondRunFetchesNothingAndStdinWorks) {
  origin_.Route("/a.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(100), "image/jpeg");
  });
  std::filesystem::path list = WriteList({"# from stdin", origin_.Url("/a.jpg")}, "stdin.txt");
  std::vector<std::string> args = {SLUICE_BINARY,     "run",   "-", "--data", data().string(),
                                   "--allow-private", "--json"};
  ProcessResult first = sluice::testing::RunProcess(args, dir_.path(), list);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Json(first.out)["set"].as_string(), "stdin");
  origin_.ClearLog();
  ProcessResult second = sluice::testing::RunProcess(args, dir_.path(), list);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(Json(second.out)["skipped"].as_int64(), 1);
  EXPECT_EQ(origin_.Log().size(), 0u);
}

TEST_F(CliTest, FatalErrorsAreClearAndNonZero) {
  ProcessResult missing =
      Sluice({"run", (dir_.path() / "absent.txt").string(), "--data", data().string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the URL list"), std::string::npos) << missing.err;

  ProcessResult bad_flag = Sluice({"run", "--concurrency", "zero", "x.txt"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  ProcessResult bad_size = Sluice({"run", "--max-size", "huge", "x.txt"});
  EXPECT_EQ(bad_size.exit_code, 2);
  EXPECT_NE(bad_size.err.find("not a size"), std::string::npos) << bad_size.err;

  std::filesystem::path list = WriteList({"http://example.com/a.jpg"});
  std::ofstream(dir_.path() / "a-file") << "x";
  ProcessResult unwritable =
      Sluice({"run", list.string(), "--data", (dir_.path() / "a-file" / "data").string()});
  EXPECT_EQ(unwritable.exit_code, 1);
  EXPECT_NE(unwritable.err.find("sluice: error: cannot create or write"), std::string::npos)
      << unwritable.err;

  std::ofstream(dir_.path() / "bad.jsonl") << "{\"url\": 5}\n";
  ProcessResult bad_list =
      Sluice({"run", (dir_.path() / "bad.jsonl").string(), "--data", data().string()});
  EXPECT_EQ(bad_list.exit_code, 2);
  EXPECT_NE(bad_list.err.find("line 1"), std::string::npos) << bad_list.err;
}

TEST_F(CliTest, ResultsShowsSetsAndItems) {
  origin_.Route("/a.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(100), "image/jpeg");
  });
  ASSERT_EQ(Sluice(RunArgs(WriteList({origin_.Url("/a.jpg"), origin_.Url("/b.jpg")}),
                           {"--allow-private"}))
                .exit_code,
            0);
  ProcessResult sets = Sluice({"results", "--data", data().string()});
  EXPECT_NE(sets.out.find("urls"), std::string::npos) << sets.out;
  ProcessResult items =
      Sluice({"results", "--data", data().string(), "--set", "urls", "--format", "jsonl"});
  ASSERT_EQ(items.exit_code, 0) << items.err;
  EXPECT_NE(items.out.find(R"("failure":{"cause":"http_404")"), std::string::npos) << items.out;
  EXPECT_NE(items.out.find("\"mime\":\"image/jpeg\""), std::string::npos) << items.out;
  EXPECT_EQ(Sluice({"results", "--data", (dir_.path() / "none").string()}).exit_code, 2);
}

TEST_F(CliTest, TryRunsOneMethodAloneAndMethodsListsThem) {
  auto image = sluice::testing::MakeTextImage(dir_.path(), "sale.png", "BIG SALE", "800x300");
  ProcessResult ocr = Sluice({"try", "ocr.tesseract", image.string(), "--data", data().string()});
  ASSERT_EQ(ocr.exit_code, 0) << ocr.err;
  boost::json::object step = Json(ocr.out);
  EXPECT_EQ(step["method"].as_string(), "ocr.tesseract");
  EXPECT_EQ(step["step_key"].as_string().size(), 64u);
  EXPECT_NE(std::string(step["output"].as_object()["text"].as_string()).find("SALE"),
            std::string::npos)
      << ocr.out;

  ProcessResult thumb = Sluice({"try", "image.thumbnail", image.string(), "--data", data().string(),
                                "--params", R"({"max_side": 100})"});
  ASSERT_EQ(thumb.exit_code, 0) << thumb.err;
  std::string key(Json(thumb.out)["artifacts"].as_object()["thumbnail"].as_string());
  EXPECT_TRUE(std::filesystem::exists(data() / key)) << key;

  ProcessResult unknown = Sluice({"try", "image.nope", image.string(), "--data", data().string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no method named 'image.nope'"), std::string::npos) << unknown.err;
  ProcessResult bad_params =
      Sluice({"try", "image.colors", image.string(), "--data", data().string(), "--params", "[1]"});
  EXPECT_EQ(bad_params.exit_code, 2);
  auto bomb = sluice::testing::MakePngBomb(dir_.path(), "bomb.png", 40'000, 40'000);
  ProcessResult refused = Sluice({"try", "image.phash", bomb.string(), "--data", data().string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(Json(refused.out)["failure"].as_object()["cause"].as_string(), "too_many_pixels");

  ProcessResult list = Sluice({"methods", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find(R"("name":"image.phash")"), std::string::npos);
  EXPECT_NE(list.out.find(R"("name":"set.near_duplicates")"), std::string::npos);
}

// Serves three small images and writes a pipeline of cheap steps; returns the URL list.
std::filesystem::path ServeImagesWithPipeline(ScriptedOrigin& origin,
                                              const std::filesystem::path& dir,
                                              std::vector<std::string>& bodies) {
  std::vector<std::string> urls;
  const char* colors[] = {"#ff0000", "#00aa00", "#0000ff"};
  for (int i = 0; i < 3; ++i) {
    auto file = sluice::testing::MakeSolidImage(dir, "img" + std::to_string(i) + ".png", colors[i],
                                                "80x60");
    std::ifstream in(file, std::ios::binary);
    bodies.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::string body = bodies.back();
    origin.Route("/img" + std::to_string(i) + ".png",
                 [body](const HttpRequest& r, int) { return ServeBytes(r, body, "image/png"); });
    urls.push_back(origin.Url("/img" + std::to_string(i) + ".png"));
  }
  std::ofstream(dir / "cheap.toml") << R"(
[[cycle]]
  [[cycle.item]]
  method = "media.probe"
  [[cycle.item]]
  method = "image.phash"
  [[cycle.item]]
  method = "image.colors"
  params = { colors = 2 }
  [[cycle.item]]
  method = "image.thumbnail"
  when = "media.probe.width >= 50"
  [[cycle.set]]
  method = "set.near_duplicates"
  [[cycle.set]]
  method = "set.summary"
)";
  std::filesystem::path list = dir / "images.txt";
  std::ofstream out(list);
  for (const auto& url : urls) out << url << "\n";
  return list;
}

TEST_F(CliTest, KillNineAtEveryStepBoundaryThenRerunGivesTheSameResults) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  auto run = [&](const std::filesystem::path& data, std::vector<std::string> env) {
    return sluice::testing::RunProcess(
        {SLUICE_BINARY, "run", list.string(), "--data", data.string(), "--allow-private", "--json",
         "--pipeline", (dir_.path() / "cheap.toml").string()},
        dir_.path(), std::nullopt, env);
  };
  // What every step of every item gives when nothing goes wrong.
  auto results = [&](const std::filesystem::path& data) {
    ProcessResult shown =
        Sluice({"results", "--data", data.string(), "--set", "images", "--format", "jsonl"});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    return shown.out;
  };
  ProcessResult baseline = run(dir_.path() / "baseline", {});
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  boost::json::object analysis = Json(baseline.out)["analysis"].as_object();
  int64_t total = analysis["steps_run"].as_int64();
  ASSERT_EQ(total, 3 * 4 + 2) << baseline.out;
  std::string expected = results(dir_.path() / "baseline");

  for (int64_t k = 1; k < total; ++k) {
    std::filesystem::path data = dir_.path() / ("crash-" + std::to_string(k));
    ProcessResult killed = run(data, {"SLUICE_TEST_CRASH_AFTER_STEPS=" + std::to_string(k)});
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "k=" << k << " " << killed.err;
    ProcessResult rerun = run(data, {});
    ASSERT_EQ(rerun.exit_code, 0) << "k=" << k << " " << rerun.err;
    boost::json::object again = Json(rerun.out)["analysis"].as_object();
    // The crash comes at the first checkpoint by which k steps ran; an item's wave of
    // concurrent steps is journaled in one append, so that checkpoint may hold more than k.
    int64_t replayed = again["steps_replayed"].as_int64();
    EXPECT_GE(replayed, k) << "k=" << k << ": finished steps come from the journal";
    EXPECT_EQ(again["steps_run"].as_int64(), total - replayed)
        << "k=" << k << ": no finished step runs again";
    EXPECT_EQ(results(data), expected) << "k=" << k;
  }
}

// The crash hook is a seam of the tests' binary only: the shipped one reads no test variable.
TEST_F(CliTest, TheShippedBinaryIgnoresTestHooks) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::filesystem::path log = dir_.path() / "steps.log";
  ProcessResult shipped = sluice::testing::RunProcess(
      {SLUICE_SHIPPED_BINARY, "run", list.string(), "--data", data().string(), "--allow-private",
       "--json", "--pipeline", (dir_.path() / "cheap.toml").string()},
      dir_.path(), std::nullopt,
      {"SLUICE_TEST_CRASH_AFTER_STEPS=1", "SLUICE_TEST_STEP_LOG=" + log.string()});
  ASSERT_EQ(shipped.exit_code, 0) << shipped.err;
  EXPECT_EQ(Json(shipped.out)["analysis"].as_object()["steps_run"].as_int64(), 14);
  EXPECT_FALSE(std::filesystem::exists(log));
}

TEST_F(CliTest, FetchOnlyStoresThenALaterRunAnalysesWithoutRefetching) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::string pipeline = (dir_.path() / "cheap.toml").string();
  ProcessResult fetched =
      Sluice(RunArgs(list, {"--allow-private", "--json", "--fetch-only", "--pipeline", pipeline}));
  ASSERT_EQ(fetched.exit_code, 0) << fetched.err;
  EXPECT_EQ(Json(fetched.out)["ok"].as_int64(), 3);
  EXPECT_EQ(Json(fetched.out)["analysis"].as_object()["steps_run"].as_int64(), 0);
  origin_.ClearLog();
  ProcessResult analysed =
      Sluice(RunArgs(list, {"--allow-private", "--json", "--pipeline", pipeline}));
  ASSERT_EQ(analysed.exit_code, 0) << analysed.err;
  EXPECT_EQ(Json(analysed.out)["analysis"].as_object()["steps_run"].as_int64(), 14);
  EXPECT_TRUE(origin_.Log().empty()) << "stored media is never fetched again";
}

TEST_F(CliTest, PipelineCheckAndRunWithAPipelineFile) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  ProcessResult ok = Sluice({"pipeline", "check", (dir_.path() / "cheap.toml").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok"), std::string::npos);
  std::ofstream(dir_.path() / "bad.toml")
      << "[[cycle]]\n[[cycle.item]]\nmethod = \"image.phash\"\n\n[[cycle.item]]\n"
         "method = \"ocr.tesseract\"\nparams = { language = \"eng\" }\n";
  ProcessResult bad = Sluice({"pipeline", "check", (dir_.path() / "bad.toml").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.toml:5: ocr.tesseract has no parameter 'language'"),
            std::string::npos)
      << bad.err;
  // A bad pipeline is refused before anything is fetched.
  ProcessResult refused =
      Sluice(RunArgs(list, {"--allow-private", "--pipeline", (dir_.path() / "bad.toml").string()}));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(origin_.Log().size(), 0u);

  ProcessResult run = Sluice(RunArgs(
      list, {"--allow-private", "--json", "--pipeline", (dir_.path() / "cheap.toml").string()}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ProcessResult shown =
      Sluice({"results", "--data", data().string(), "--set", "images", "--format", "jsonl"});
  EXPECT_NE(shown.out.find(R"("image.phash":{"phash":)"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("ocr.tesseract"), std::string::npos) << "only the pipeline's steps ran";
  // The same bytes in another set are not analysed again.
  ProcessResult second =
      Sluice(RunArgs(list, {"--allow-private", "--json", "--set", "again", "--pipeline",
                            (dir_.path() / "cheap.toml").string()}));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  boost::json::object analysis = Json(second.out)["analysis"].as_object();
  EXPECT_EQ(analysis["steps_cached"].as_int64(), 12);
  EXPECT_EQ(analysis["steps_run"].as_int64(), 2) << "only the set steps";
  EXPECT_EQ(Sluice(RunArgs(list, {"--set", "bad name!"})).exit_code, 2);
}

TEST_F(CliTest, SearchFindsTheNearDuplicateAcrossSetsAndIndexesRepairThemselves) {
  namespace fx = sluice::testing;
  // Two sets: an ad and unrelated pictures in one, a resized copy of the ad in the other.
  std::map<std::string, std::filesystem::path> files = {
      {"sale.png", fx::MakeTextImage(dir_.path(), "sale.png", "SUMMER SALE")},
      {"face.png", fx::MakeFaceImage(dir_.path(), "face.png")},
      {"red.png", fx::MakeSolidImage(dir_.path(), "red.png", "#d01010", "300x200")},
      {"coffee.png",
       fx::MakeTextImage(dir_.path(), "coffee.png", "FRESH COFFEE 2 FOR 1", "400x800")}};
  files["sale-copy.jpg"] = fx::MakeNearDuplicate(files["sale.png"], "sale-copy.jpg");
  for (const auto& [name, file] : files) {
    std::ifstream in(file, std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    origin_.Route("/" + name, [body](const HttpRequest& r, int) {
      return ServeBytes(r, body, "application/octet-stream");
    });
  }
  std::ofstream(dir_.path() / "embed.toml")
      << "[[cycle]]\n[[cycle.item]]\nmethod = \"image.embedding\"\n"
         "[[cycle.item]]\nmethod = \"image.safety\"\n[[cycle.item]]\nmethod = \"image.phash\"\n"
         "[[cycle.set]]\nmethod = \"set.near_duplicates\"\n";
  std::string pipeline = (dir_.path() / "embed.toml").string();
  ProcessResult a = Sluice(RunArgs(WriteList({origin_.Url("/sale.png"), origin_.Url("/face.png"),
                                              origin_.Url("/red.png"), origin_.Url("/coffee.png")},
                                             "brand-a.txt"),
                                   {"--allow-private", "--pipeline", pipeline}));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("embeddings: 4 stored, 4 newly indexed"), std::string::npos) << a.out;
  EXPECT_EQ(a.out.find("already known"), std::string::npos) << "nothing came before" << a.out;
  ProcessResult b = Sluice(RunArgs(WriteList({origin_.Url("/sale-copy.jpg")}, "brand-b.txt"),
                                   {"--allow-private", "--pipeline", pipeline}));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  // The copy is already known: its perceptual hash is near the ad's, found in brand-a through
  // the hash index.
  EXPECT_NE(b.out.find(StrCat("already known: ", origin_.Url("/sale-copy.jpg"), " ~ ",
                              origin_.Url("/sale.png"), " in set brand-a")),
            std::string::npos)
      << b.out;
  // Run again, brand-a finds the copy in brand-b, and none of its own images.
  ProcessResult a_again =
      Sluice(RunArgs(WriteList({origin_.Url("/sale.png"), origin_.Url("/face.png"),
                                origin_.Url("/red.png"), origin_.Url("/coffee.png")},
                               "brand-a.txt"),
                     {"--allow-private", "--pipeline", pipeline}));
  ASSERT_EQ(a_again.exit_code, 0) << a_again.err;
  EXPECT_NE(a_again.out.find(StrCat("already known: ", origin_.Url("/sale.png"), " ~ ",
                                    origin_.Url("/sale-copy.jpg"), " in set brand-b")),
            std::string::npos)
      << a_again.out;
  EXPECT_EQ(a_again.out.find("in set brand-a"), std::string::npos) << a_again.out;

  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", "--data", data().string(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Sluice(args);
  };
  ProcessResult found = search({"--like", files["sale-copy.jpg"].string(), "--k", "3"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  boost::json::array hits = Json(found.out)["hits"].as_array();
  ASSERT_EQ(hits.size(), 3u) << found.out;
  // The copy itself, then the ad it was made from, then the rest well below.
  EXPECT_EQ(hits[0].at("items").as_array()[0].at("set").as_string(), "brand-b");
  EXPECT_NEAR(hits[0].at("score").to_number<double>(), 1.0, 1e-3);
  EXPECT_EQ(hits[1].at("items").as_array()[0].at("url").as_string(), origin_.Url("/sale.png"));
  EXPECT_GT(hits[1].at("score").to_number<double>(), 0.9);
  EXPECT_LT(hits[2].at("score").to_number<double>(), hits[1].at("score").to_number<double>() - 0.02)
      << found.out;
  EXPECT_TRUE(hits[1].at("results").as_object().contains("image.safety")) << found.out;
  std::string sale_sha(hits[1].at("sha256").as_string());

  // By the SHA-256 of analysed content, and within one set.
  ProcessResult by_sha = search({"--like", sale_sha, "--k", "2", "--set", "brand-a"});
  ASSERT_EQ(by_sha.exit_code, 0) << by_sha.err;
  boost::json::array in_a = Json(by_sha.out)["hits"].as_array();
  ASSERT_EQ(in_a.size(), 2u);
  EXPECT_EQ(in_a[0].at("sha256").as_string(), sale_sha);
  for (const auto& hit : in_a)
    EXPECT_EQ(hit.at("items").as_array()[0].at("set").as_string(), "brand-a");
  // By URL, fetched with run's guards: loopback only when allowed.
  ProcessResult by_url = search({"--like", origin_.Url("/sale-copy.jpg"), "--k", "1"});
  EXPECT_EQ(by_url.exit_code, 2);
  EXPECT_NE(by_url.err.find("pass --allow-private"), std::string::npos) << by_url.err;
  by_url = search({"--like", origin_.Url("/sale-copy.jpg"), "--k", "1", "--allow-private"});
  ASSERT_EQ(by_url.exit_code, 0) << by_url.err;
  EXPECT_EQ(Json(by_url.out)["hits"].as_array()[0].at("sha256"), hits[0].at("sha256"));
  ProcessResult unknown = search({"--like", std::string(64, 'a')});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no image.embedding embedding is stored"), std::string::npos)
      << unknown.err;

  // An index lost (a crash between commit and save) is rebuilt from the database at start.
  std::filesystem::remove_all(data() / "index");
  ProcessResult verify = Sluice({"index", "verify", "--data", data().string(), "--json"});
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.err.find("added 5 embeddings it was missing"), std::string::npos) << verify.err;
  EXPECT_NE(verify.err.find("index image.phash.hashes: added 5 hashes it was missing"),
            std::string::npos)
      << verify.err;
  // One line per index: the vectors', then the hashes'.
  std::istringstream lines(verify.out);
  std::string vector_line, hash_line;
  std::getline(lines, vector_line);
  std::getline(lines, hash_line);
  boost::json::object check = Json(vector_line);
  EXPECT_EQ(Json(hash_line)["index"].as_string(), "image.phash.hashes");
  EXPECT_EQ(Json(hash_line)["missing"].as_int64(), 0);
  EXPECT_EQ(check["vectors"].as_int64(), 5);
  EXPECT_EQ(check["missing"].as_int64(), 0);
  EXPECT_EQ(check["recall_at_10"].to_number<double>(), 1.0);
  ProcessResult built =
      Sluice({"index", "build", "--data", data().string(), "--kind", "hnsw", "--json"});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_EQ(Json(built.out)["kind"].as_string(), "hnsw");
  ProcessResult stats = Sluice({"index", "stats", "--data", data().string()});
  EXPECT_NE(stats.out.find("hnsw, 5 vectors of 5 stored"), std::string::npos) << stats.out;
  ProcessResult again = search({"--like", files["sale-copy.jpg"].string(), "--k", "2"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Json(again.out)["hits"].as_array()[1].at("sha256").as_string(), sale_sha);
}

// Words find pictures through a multimodal model (the fake provider's: a picture lands near
// the word of its dominant colour), and a picture-only model says it cannot.
TEST_F(CliTest, SearchByWordsFindsPicturesThroughAMultimodalModel) {
  namespace fx = sluice::testing;
  auto fake = fx::FakeProvider::Start({.dimensions = 64});  // unrelated words stay apart
  ASSERT_TRUE(fake.ok());
  std::vector<std::string> urls;
  for (const auto& [name, colour, size] :
       {std::tuple{"red.png", "#d01010", "300x200"}, std::tuple{"blue.png", "#1020d0", "200x200"},
        std::tuple{"green.png", "#10b020", "240x160"},
        std::tuple{"dark-red.png", "#901818", "160x240"}}) {
    std::filesystem::path file = fx::MakeSolidImage(dir_.path(), name, colour, size);
    std::ifstream in(file, std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    origin_.Route(StrCat("/", name),
                  [body](const HttpRequest& r, int) { return ServeBytes(r, body, "image/png"); });
    urls.push_back(origin_.Url(StrCat("/", name)));
  }
  std::string config = (dir_.path() / "sluice.toml").string();
  std::ofstream(config) << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \""
                        << (*fake)->openai_url() << "/\"\nimage_embedding_model = \"fake-clip\"\n";
  std::ofstream(dir_.path() / "clip.toml")
      << "[[cycle]]\n[[cycle.item]]\nmethod = \"embed.image\"\n";
  ProcessResult run =
      Sluice(RunArgs(WriteList(urls), {"--allow-private", "--config", config, "--pipeline",
                                       (dir_.path() / "clip.toml").string()}));
  ASSERT_EQ(run.exit_code, 0) << run.err;

  auto search = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", "--data", data().string(), "--config", config};
    args.insert(args.end(), extra.begin(), extra.end());
    return Sluice(args);
  };
  ProcessResult red = search({"--text", "red", "--method", "embed.image", "--k", "3", "--json"});
  ASSERT_EQ(red.exit_code, 0) << red.err;
  boost::json::object answer = Json(red.out);
  EXPECT_EQ(answer["query"].as_string(), "text:red");
  EXPECT_EQ(answer["index"].as_string(), "embed.image@fake-clip@64");
  boost::json::array hits = answer["hits"].as_array();
  ASSERT_EQ(hits.size(), 3u) << red.out;
  std::set<std::string> reds;
  for (int i : {0, 1}) reds.insert(std::string(hits[i].at("items").at(0).at("url").as_string()));
  EXPECT_EQ(reds, (std::set<std::string>{urls[0], urls[3]})) << red.out;
  EXPECT_LT(hits[2].at("score").to_number<double>(), hits[1].at("score").to_number<double>() - 0.3);
  ProcessResult blue = search({"--text", "blue", "--method", "embed.image", "--k", "1", "--json"});
  ASSERT_EQ(blue.exit_code, 0) << blue.err;
  EXPECT_EQ(Json(blue.out)["hits"].at(0).at("items").at(0).at("url").as_string(), urls[1]);
  // The query went to the image model as text, alone.
  EXPECT_EQ((*fake)->embedding_batches().back(), 1u);

  ProcessResult local = search({"--text", "red"});
  EXPECT_EQ(local.exit_code, 2);
  EXPECT_NE(local.err.find("image.embedding's model sees pictures only"), std::string::npos)
      << local.err;
  ProcessResult neither = search({});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("give --like"), std::string::npos) << neither.err;
  EXPECT_NE(search({"--text", "red", "--like", urls[0]}).exit_code, 0);
}

TEST_F(CliTest, BackfillShardsRunAsProcessesSurviveAKillAndLoadIntoPostgres) {
  Result<std::string> postgres = sluice::testing::FreshPostgresDatabase();
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  // 80 pictures staged in the store (the data directory's), and a manifest of their keys.
  std::filesystem::create_directories(data() / "staged");
  std::ofstream manifest(data() / "staged" / "manifest.txt");
  for (int n = 0; n < 80; ++n) {
    cv::Mat picture(40, 56, CV_8UC3, cv::Scalar(3 * n, 255 - 3 * n, (n * 37) % 255));
    cv::putText(picture, std::to_string(n), cv::Point(4, 30), cv::FONT_HERSHEY_SIMPLEX, 0.9,
                cv::Scalar(255, 255, 255), 2);
    std::string name = StrCat("p", n, ".png");
    cv::imwrite((data() / "staged" / name).string(), picture);
    manifest << "staged/" << name << "\n";
  }
  manifest.close();
  auto backfill = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {
        SLUICE_BINARY, "backfill",      "--manifest", "staged/manifest.txt",
        "--data",      data().string(), "--db",       *postgres};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  };
  ProcessResult plan =
      sluice::testing::RunProcess(backfill({"plan", "--shard-size", "40"}), dir_.path());
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("80 images in 2 shards of 40"), std::string::npos) << plan.out;

  // Two shards as two processes at once (the second by its indexed-job number); the second is
  // killed once two of its chunks are whole.
  std::vector<std::string> run = {
      "run", "--chunk-size", "4",         "--in-flight",
      "1",   "--json",       "--methods", "image.phash,image.embedding"};
  std::vector<std::string> first = backfill(run);
  first.insert(first.end(), {"--shard", "0"});
  sluice::testing::Subprocess shard0(first, dir_.path());
  sluice::testing::Subprocess shard1(backfill(run), dir_.path(), std::nullopt,
                                     {"JOB_COMPLETION_INDEX=1"});
  std::filesystem::path out1 = data() / "staged/manifest.txt.backfill/out/shard-00001";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(out1 / "chunk-00001.json") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  shard1.Kill(SIGKILL);
  EXPECT_EQ(shard1.Wait().exit_code, 128 + SIGKILL);
  ProcessResult done0 = shard0.Wait();
  ASSERT_EQ(done0.exit_code, 0) << done0.err;
  EXPECT_EQ(Json(done0.out)["images"].as_int64(), 40);
  ASSERT_FALSE(std::filesystem::exists(out1 / "_SUCCESS")) << "killed before the end";

  std::vector<std::string> again = backfill(run);
  again.insert(again.end(), {"--shard", "1"});
  ProcessResult resumed = sluice::testing::RunProcess(again, dir_.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  boost::json::object report = Json(resumed.out);
  int64_t kept = report["chunks_resumed"].as_int64();
  EXPECT_GE(kept, 2);
  EXPECT_EQ(report["images"].as_int64(), 40 - 4 * kept) << "only what was not whole ran again";
  ProcessResult rerun = sluice::testing::RunProcess(again, dir_.path());
  EXPECT_NE(rerun.out.find("finished earlier"), std::string::npos) << rerun.out;

  ProcessResult load = sluice::testing::RunProcess(backfill({"load", "--json"}), dir_.path());
  ASSERT_EQ(load.exit_code, 0) << load.err;
  boost::json::object loaded = Json(load.out);
  EXPECT_EQ(loaded["shards_loaded"].as_int64(), 2);
  EXPECT_EQ(loaded["rows"].as_int64(), 80);
  EXPECT_EQ(loaded["embeddings"].as_int64(), 80);
  EXPECT_EQ(loaded["indexes"].as_array()[0].at("vectors").as_int64(), 80);
  auto catalog = db::PostgresCatalog::Open(*postgres);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ((*catalog)->ListItems("manifest-00001")->size(), 40u);
  EXPECT_EQ((*catalog)->EmbeddingSpaces()->at(0).count, 80);
  // Loading again changes nothing.
  ASSERT_EQ(sluice::testing::RunProcess(backfill({"load"}), dir_.path()).exit_code, 0);
  EXPECT_EQ((*catalog)->EmbeddingSpaces()->at(0).count, 80);

  // NumPy reads the vectors: 80 unit-length rows of 1280 float32 over all chunks.
  std::ofstream(dir_.path() / "check.py")
      << "import glob, numpy\n"
         "m = [numpy.load(f) for f in sorted(glob.glob('"
      << data().string()
      << "/staged/manifest.txt.backfill/out/*/*.npy'))]\n"
         "a = numpy.concatenate(m)\n"
         "print(a.shape[0], a.shape[1], a.dtype, round(float(numpy.linalg.norm(a, axis=1).mean()), "
         "3))\n";
  ProcessResult numpy = sluice::testing::RunProcess(
      {"/usr/bin/python3", (dir_.path() / "check.py").string()}, dir_.path());
  ASSERT_EQ(numpy.exit_code, 0) << numpy.err << " (scripts/install-deps.sh installs python3-numpy)";
  EXPECT_EQ(numpy.out, "80 1280 float32 1.0\n");
}

TEST_F(CliTest, DemoServesSamplesAndRecordsThem) {
  std::filesystem::create_directories(dir_.path() / "samples");
  std::ofstream(dir_.path() / "samples" / "one.jpg", std::ios::binary)
      << ScriptedOrigin::MediaBody(3000, 1);
  std::ofstream(dir_.path() / "samples" / "two.jpg", std::ios::binary)
      << ScriptedOrigin::MediaBody(3000, 1);
  ProcessResult demo = Sluice({"demo", "--data", data().string(), "--samples",
                               (dir_.path() / "samples").string(), "--progress", "none"});
  ASSERT_EQ(demo.exit_code, 0) << demo.err;
  EXPECT_NE(demo.out.find("3 URLs -> 1 stored objects"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find(data().string()), std::string::npos) << demo.out;
  // Again on the same data: the same URLs (the demo's port), nothing added to the set.
  ProcessResult again = Sluice({"demo", "--data", data().string(), "--samples",
                                (dir_.path() / "samples").string(), "--progress", "none"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string port = "on http://127.0.0.1:18787";
  if (demo.err.find(port) != std::string::npos && again.err.find(port) != std::string::npos) {
    EXPECT_NE(again.out.find("3 URLs -> 1 stored objects"), std::string::npos) << again.out;
  }
  ProcessResult empty =
      Sluice({"demo", "--data", data().string(), "--samples", (dir_.path() / "nothing").string()});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("make-samples.sh"), std::string::npos) << empty.err;
}

TEST_F(CliTest, DemoRunsFromAnyDirectoryOnTheSamplesItCarries) {
  // A data directory with nothing in it: no samples, no scripts beside it.
  std::filesystem::path elsewhere = dir_.path() / "elsewhere";
  ProcessResult demo =
      Sluice({"demo", "--data", (elsewhere / "data").string(), "--progress", "none"});
  ASSERT_EQ(demo.exit_code, 0) << demo.err;
  EXPECT_NE(demo.err.find("wrote 8 bundled sample files"), std::string::npos) << demo.err;
  EXPECT_TRUE(std::filesystem::exists(elsewhere / "data" / "samples" / "video-ad-speech.mp4"));
  // 8 samples and one missing URL; the copy is stored once, the HTML page is refused.
  EXPECT_NE(demo.out.find("9 URLs -> 6 stored objects"), std::string::npos) << demo.out;
  EXPECT_NE(demo.out.find("SUMMER SALE"), std::string::npos) << demo.out;
  // Numbers as a person writes them: "share":0.101, not "share":1.01E-1.
  EXPECT_NE(demo.out.find("\"share\":0."), std::string::npos) << demo.out;
  EXPECT_EQ(demo.out.find("E-"), std::string::npos) << demo.out;
}

}  // namespace
}  // namespace sluice::cli

namespace sluice::cli {
namespace {

// Images and a video through the built-in video pipeline with a provider (the fake model
// server): the video gets shots, defects, a transcript, a content type, a description and a
// clip cut into the store; the image gets what it got before and nothing of video.
TEST_F(CliTest, VideoPipelineRunsImagesAndVideosEndToEnd) {
  auto fake = testing::FakeProvider::Start();
  ASSERT_TRUE(fake.ok());
  std::filesystem::path image = testing::MakeTextImage(dir_.path(), "ad.png", "SALE");
  ProcessResult spoken =
      testing::RunProcess({"/usr/bin/espeak-ng", "-v", "en-us+f2", "-w",
                           (dir_.path() / "line.wav").string(), "the weather is nice today"},
                          dir_.path());
  ASSERT_EQ(spoken.exit_code, 0) << spoken.err;
  std::string s = "size=640x360:rate=25";
  std::filesystem::path video = testing::MakeFromFilterGraph(
      dir_.path(), "spot.mp4",
      StrCat(
          "testsrc2=", s, ":d=6[a];smptebars=", s, ":d=6[b];testsrc=", s,
          ":d=6[c];[a][b][c]concat=n=3:v=1:a=0[out_v];amovie=", (dir_.path() / "line.wav").string(),
          ",adelay=1000:all=1,apad=whole_dur=18,asetnsamples=n=1024:p=0[out_a]"));
  auto read = [](const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::string image_bytes = read(image), video_bytes = read(video);
  origin_.Route("/ad.png",
                [&](const HttpRequest& r, int) { return ServeBytes(r, image_bytes, "image/png"); });
  origin_.Route("/spot.mp4",
                [&](const HttpRequest& r, int) { return ServeBytes(r, video_bytes, "video/mp4"); });
  (*fake)->AnswerChatsWith(
      R"({"clips":[{"start":5.6,"end":11.7,"title":"bars","reason":"colour","score":0.9}]})",
      "clips");
  std::ofstream(dir_.path() / "sluice.toml")
      << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \"" << (*fake)->openai_url()
      << "/\"\nchat_model = \"fake-chat\"\n";
  std::filesystem::path list = WriteList({origin_.Url("/ad.png"), origin_.Url("/spot.mp4")});
  ProcessResult run =
      Sluice(RunArgs(list, {"--allow-private", "--set", "spots", "--pipeline", "video", "--config",
                            (dir_.path() / "sluice.toml").string()}));
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  // Content type, description and clips: three chats, for the video only.
  EXPECT_EQ((*fake)->requests_of("chat"), 3) << run.out;

  ProcessResult results =
      Sluice({"results", "--data", data().string(), "--set", "spots", "--format", "jsonl"});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  std::istringstream lines(results.out);
  int rows = 0;
  for (std::string line; std::getline(lines, line); ++rows) {
    boost::json::object row = Json(line);
    const boost::json::object& steps = row.at("steps").as_object();
    std::string url(row.at("url").as_string());
    if (url.ends_with(".png")) {
      EXPECT_TRUE(steps.contains("ocr.tesseract"));
      EXPECT_FALSE(steps.contains("video.shots"));
      EXPECT_FALSE(steps.contains("llm.clips"));
      continue;
    }
    for (const char* method : {"video.shots", "video.defects", "audio.transcript",
                               "llm.content_type", "llm.describe", "llm.clips", "video.clips"}) {
      ASSERT_TRUE(steps.contains(method)) << method << ": " << line;
      EXPECT_FALSE(steps.at(method).as_object().contains("failure"))
          << method << ": " << boost::json::serialize(steps.at(method));
    }
    EXPECT_EQ(steps.at("video.shots").at("shot_count"), 3);
    std::string said(steps.at("audio.transcript").at("text").as_string());
    EXPECT_NE(said.find("weather"), std::string::npos) << said;
    EXPECT_EQ(steps.at("video.defects").at("color_bars").as_array().size(), 1u);
    ASSERT_EQ(steps.at("video.clips").at("clip_count"), 1) << line;
    // The keyframes, the clip and its poster are objects in the store.
    const boost::json::object& artifacts = row.at("artifacts").as_object();
    for (const auto& [method, name] :
         {std::pair{"video.clips", "clip_0"}, std::pair{"video.clips", "poster_0"},
          std::pair{"video.shots", "keyframe_0"}, std::pair{"video.shots", "keyframe_2"}}) {
      std::string key(artifacts.at(method).at(name).as_string());
      EXPECT_TRUE(std::filesystem::exists(data() / key)) << key;
    }
  }
  EXPECT_EQ(rows, 2);
}

// A pipeline mixing local and remote methods, run through the CLI against the fake model
// server: remote results land beside local ones, identical bytes are analysed (and paid for)
// once — within a set and across sets — and the run reports the cost ledger.
TEST_F(CliTest, PipelineMixesLocalAndRemoteMethodsAndPaysForEachImageOnce) {
  auto fake = testing::FakeProvider::Start();
  ASSERT_TRUE(fake.ok());
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  origin_.Route("/copy-of-img0.png", [body = bodies[0]](const HttpRequest& r, int) {
    return ServeBytes(r, body, "image/png");
  });
  std::ofstream(list, std::ios::app) << origin_.Url("/copy-of-img0.png") << "\n";
  std::ofstream(dir_.path() / "mixed.toml") << R"(
[[cycle]]
  [[cycle.item]]
  method = "media.probe"
  [[cycle.item]]
  method = "llm.tags"
  [[cycle.item]]
  method = "llm.describe"
  [[cycle.item]]
  method = "embed.text"
  [[cycle.set]]
  method = "llm.set_summary"
)";
  std::ofstream(dir_.path() / "sluice.toml")
      << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \"" << (*fake)->openai_url()
      << "/\"\nchat_model = \"fake-chat\"\nmax_concurrency = 4\n"
      // Long enough for the three items' texts to meet in one request, however slow the build.
      << "embedding_batch_wait_ms = 1500\n";
  std::vector<std::string> options = {"--allow-private", "--pipeline",
                                      (dir_.path() / "mixed.toml").string(), "--config",
                                      (dir_.path() / "sluice.toml").string()};
  std::vector<std::string> args = RunArgs(list, options);
  ProcessResult run = Sluice(args);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  // 3 distinct images (4 URLs): tags and describe once each, one set summary.
  EXPECT_EQ((*fake)->requests_of("chat"), 3 + 3 + 1) << run.out;
  EXPECT_EQ((*fake)->requests_of("embeddings"), 1) << "the three texts in one request";
  EXPECT_NE(run.out.find("cost llm.tags: 3 calls, 0 retries"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("cost embed.text: 1 calls carrying 3 inputs"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("provider fake: 8 calls"), std::string::npos) << run.out;
  EXPECT_TRUE(std::filesystem::exists(data() / "results" / "images" / "ledger.json"));

  ProcessResult results =
      Sluice({"results", "--data", data().string(), "--set", "images", "--format", "jsonl"});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  int tagged = 0;
  std::istringstream lines(results.out);
  for (std::string line; std::getline(lines, line);) {
    boost::json::object row = Json(line);
    if (row.at("steps").as_object().contains("llm.tags")) ++tagged;
    EXPECT_TRUE(row.at("steps").as_object().contains("media.probe"));
  }
  EXPECT_EQ(tagged, 4) << "the copy has its result too";

  // Another set with the same images: everything comes from the cache but the set summary.
  std::filesystem::path again = dir_.path() / "again.txt";
  std::filesystem::copy_file(list, again);
  ProcessResult second = Sluice(RunArgs(again, options));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ((*fake)->requests_of("chat"), 7 + 1);
  EXPECT_EQ((*fake)->requests_of("embeddings"), 1);

  // A provider that does not exist is refused before anything is fetched.
  std::ofstream(dir_.path() / "bad.toml") << R"(
[[cycle]]
  [[cycle.item]]
  method = "llm.tags"
  params = { provider = "nowhere" }
)";
  ProcessResult bad =
      Sluice(RunArgs(list, {"--allow-private", "--pipeline", (dir_.path() / "bad.toml").string()}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("provider 'nowhere' is not configured"), std::string::npos) << bad.err;
}

TEST_F(CliTest, TryRecordsCassettesAndReplaysThemWithNoNetwork) {
  auto fake = testing::FakeProvider::Start();
  ASSERT_TRUE(fake.ok());
  auto image = testing::MakeSolidImage(dir_.path(), "shoe.png", "red", "120x80");
  std::ofstream(dir_.path() / "sluice.toml")
      << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \"" << (*fake)->openai_url()
      << "\"\n";
  std::string config = (dir_.path() / "sluice.toml").string();
  std::string cassettes = (dir_.path() / "cassettes").string();
  ProcessResult recorded = Sluice({"try", "llm.tags", image.string(), "--config", config,
                                   "--record", cassettes, "--data", data().string()});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_NE(recorded.err.find("1 exchange(s) recorded"), std::string::npos) << recorded.err;
  fake->reset();  // the server is gone: replay must not need it
  ProcessResult replayed = Sluice({"try", "llm.tags", image.string(), "--config", config,
                                   "--replay", cassettes, "--data", data().string()});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_EQ(Json(replayed.out).at("output"), Json(recorded.out).at("output"));
  ProcessResult missing = Sluice({"try", "llm.describe", image.string(), "--config", config,
                                  "--replay", cassettes, "--data", data().string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("not_recorded"), std::string::npos) << missing.out;
}

// The committed video cassettes (methods/remote/testdata) serve `sluice try` with no server:
// the shots and the local transcript are made here, the provider's clips proposal is replayed.
TEST_F(CliTest, TryChoosesVideoClipsFromCommittedCassettes) {
  std::filesystem::path testdata =
      std::filesystem::path(__FILE__).parent_path().parent_path() / "methods/remote/testdata";
  ProcessResult clips = Sluice({"try", "llm.clips", (testdata / "talk.mp4").string(), "--replay",
                                (testdata / "cassettes").string(), "--data", data().string()});
  ASSERT_EQ(clips.exit_code, 0) << clips.err << clips.out;
  boost::json::object tried = Json(clips.out);
  const boost::json::array& chosen = tried.at("output").at("clips").as_array();
  ASSERT_EQ(chosen.size(), 1u) << clips.out;
  EXPECT_DOUBLE_EQ(chosen[0].at("start_s").to_number<double>(), 4.0);
  EXPECT_DOUBLE_EQ(chosen[0].at("end_s").to_number<double>(), 12.0);
}

// A provider nobody answers for: `sluice try` says so while it waits and fails within the
// provider's call timeout instead of waiting out max_outage_wait (15 min by default).
TEST_F(CliTest, TryAgainstAProviderThatIsDownSaysSoAndGivesUp) {
  int port = 0;
  {
    // A loopback port that was free a moment ago: connections to it are refused.
    std::unique_ptr<http::LoopbackServer> gone = std::move(
        *http::LoopbackServer::Start([](const http::HttpRequest&) { return http::HttpReply{}; }));
    port = gone->port();
  }
  auto image = testing::MakeSolidImage(dir_.path(), "shoe.png", "red", "120x80");
  std::ofstream(dir_.path() / "down.toml")
      << "[providers]\ndefault = \"down\"\n[providers.down]\nbase_url = \"http://127.0.0.1:" << port
      << "/v1\"\ntimeout_seconds = 2\nmax_attempts = 20\nbreaker_failures = 2\n"
      << "breaker_open_seconds = 1\n";
  ProcessResult tried = Sluice({"try", "llm.tags", image.string(), "--config",
                                (dir_.path() / "down.toml").string(), "--data", data().string()});
  EXPECT_EQ(tried.exit_code, 1) << tried.err;
  EXPECT_NE(tried.err.find("provider down is not answering (connect_failed"), std::string::npos)
      << tried.err;
  EXPECT_NE(tried.err.find("next try in 1 s"), std::string::npos) << tried.err;
  EXPECT_EQ(Json(tried.out).at("failure").at("cause"), "provider_unavailable") << tried.out;
}

// Provider limits change while a run is in progress: SIGHUP re-reads the config file.
TEST_F(CliTest, SighupAppliesNewProviderLimitsToARunningAnalysis) {
  auto fake = testing::FakeProvider::Start();
  ASSERT_TRUE(fake.ok());
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::vector<std::string> urls;
  for (int i = 3; i < 8; ++i) {
    auto file =
        testing::MakeSolidImage(dir_.path(), "more" + std::to_string(i) + ".png",
                                "#00" + std::to_string(i) + "0" + std::to_string(i) + "0", "40x30");
    std::ifstream in(file, std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    origin_.Route("/more" + std::to_string(i) + ".png",
                  [body](const HttpRequest& r, int) { return ServeBytes(r, body, "image/png"); });
    std::ofstream(list, std::ios::app) << origin_.Url("/more" + std::to_string(i) + ".png") << "\n";
  }
  std::ofstream(dir_.path() / "tags.toml")
      << "[[cycle]]\n  [[cycle.item]]\n  method = \"llm.tags\"\n";
  auto write_config = [&](int per_minute) {
    std::ofstream(dir_.path() / "sluice.toml")
        << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \""
        << (*fake)->openai_url() << "\"\nmax_concurrency = 1\nrequests_per_minute = " << per_minute
        << "\n";
  };
  write_config(30);  // one call every 2 s: 8 calls would take 14 s
  std::vector<std::string> args =
      RunArgs(list, {"--allow-private", "--pipeline", (dir_.path() / "tags.toml").string(),
                     "--config", (dir_.path() / "sluice.toml").string()});
  args.insert(args.begin(), SLUICE_BINARY);
  auto start = std::chrono::steady_clock::now();
  testing::Subprocess run(args, dir_.path());
  while ((*fake)->requests_of("chat") < 1 && std::chrono::steady_clock::now() - start < 20s)
    std::this_thread::sleep_for(10ms);
  write_config(60000);
  run.Kill(SIGHUP);
  ProcessResult done = run.Wait();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.err.find("provider fake: limits reloaded (1 in flight, 60000 requests/min"),
            std::string::npos)
      << done.err;
  EXPECT_EQ((*fake)->requests_of("chat"), 8);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 9s) << "the new rate applied";
}

// --store s3://…: objects, thumbnails and result documents go to S3 (s3rver on loopback); the
// local data directory keeps only the database and scratch space; a rerun fetches nothing.
TEST_F(CliTest, RunStoresObjectsAndResultsInS3) {
  auto server = testing::S3rver::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::vector<std::string> env = {
      "AWS_ENDPOINT_URL=" + (*server)->endpoint(),
      std::string("AWS_ACCESS_KEY_ID=") + testing::S3rver::kAccessKey,
      std::string("AWS_SECRET_ACCESS_KEY=") + testing::S3rver::kSecretKey, "AWS_REGION=us-east-1"};
  std::vector<std::string> args = {SLUICE_BINARY,
                                   "run",
                                   list.string(),
                                   "--data",
                                   data().string(),
                                   "--allow-private",
                                   "--json",
                                   "--pipeline",
                                   (dir_.path() / "cheap.toml").string(),
                                   "--store",
                                   "s3://sluice-test/fleet"};
  ProcessResult run = testing::RunProcess(args, dir_.path(), std::nullopt, env);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_EQ(Json(run.out).at("fetched"), 3);
  EXPECT_FALSE(std::filesystem::exists(data() / "objects")) << "objects went to S3";

  runtime::Runtime rt;
  auto client = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
  storage::S3BlobStore store(*client, rt.loop_executor(), rt.blocking(),
                             {.endpoint = (*server)->endpoint(),
                              .bucket = "sluice-test",
                              .prefix = "fleet",
                              .credentials = {.access_key = testing::S3rver::kAccessKey,
                                              .secret_key = testing::S3rver::kSecretKey,
                                              .region = "us-east-1"},
                              .allow_private = true});
  Result<std::vector<storage::BlobInfo>> results = rt.Run(store.List("results/images/"));
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->size(), 3u + 1u) << "a document per item and the ledger";
  for (const std::string& body : bodies) {
    Result<std::string> stored =
        rt.Run(store.Get(storage::ContentKey(Sha256::HexOf(body)), std::nullopt));
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(*stored, body);
  }
  ProcessResult again = testing::RunProcess(args, dir_.path(), std::nullopt, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Json(again.out).at("fetched"), 0);
  EXPECT_EQ(Json(again.out).at("skipped"), 3);

  // The perceptual hashes' index went to the store too; a data directory without it fetches
  // the copy instead of reading every hash from the database again.
  Result<std::vector<storage::BlobInfo>> copies = rt.Run(store.List("index/"));
  ASSERT_TRUE(copies.ok()) << copies.status();
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ(copies->at(0).key, "index/image.phash.hashes.faiss");
  std::filesystem::remove_all(data() / "index");
  ProcessResult stats = testing::RunProcess({SLUICE_BINARY, "index", "stats", "--data",
                                             data().string(), "--store", "s3://sluice-test/fleet"},
                                            dir_.path(), std::nullopt, env);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.err.find("index: fetched 1 index files from s3://sluice-test/fleet"),
            std::string::npos)
      << stats.err;
  EXPECT_EQ(stats.err.find("it was missing"), std::string::npos) << "the copy held every hash";
  EXPECT_NE(stats.out.find("image.phash.hashes: binary (perceptual hashes, exact), 3 hashes of 3"),
            std::string::npos)
      << stats.out;
}

// --db postgres://…: the set, its items and every step land in Postgres, not in the data
// directory; `results` reads them back from there; a bad --db is refused before any fetch.
TEST_F(CliTest, RunRecordsIntoPostgres) {
  Result<std::string> uri = testing::FreshPostgresDatabase();
  ASSERT_TRUE(uri.ok()) << uri.status();
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  ProcessResult run = Sluice(RunArgs(list, {"--allow-private", "--json", "--pipeline",
                                            (dir_.path() / "cheap.toml").string(), "--db", *uri}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Json(run.out).at("ok"), 3);
  EXPECT_FALSE(std::filesystem::exists(data() / "sluice.db")) << "the database is Postgres";
  auto db = db::PostgresCatalog::Open(*uri);
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<db::SetTotals> sets = *(*db)->ListSets();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].ok, 3);
  EXPECT_EQ(sets[0].commits, 1);
  EXPECT_FALSE((*db)->ListSteps(sets[0].set)->empty());
  ProcessResult shown = Sluice({"results", "--data", data().string(), "--db", *uri});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find(sets[0].set), std::string::npos) << shown.out;

  ProcessResult bad = Sluice(RunArgs(list, {"--allow-private", "--db", "mysql://x/y"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("sqlite://PATH or postgres://"), std::string::npos) << bad.err;
  ProcessResult down =
      Sluice(RunArgs(list, {"--allow-private", "--db", "postgresql://postgres@127.0.0.1:1/x"}));
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot connect to the database"), std::string::npos) << down.err;
}

// `sluice serve --workers 1`: a job submitted over HTTP is run by the in-process worker, followed
// by its token and read back as results; SIGTERM stops it. Without keys it only serves loopback.
// Starts `sluice serve ARGS` with its output in `logs` and returns it with the URL it printed
// ("" when it printed none within 10 s).
std::pair<std::unique_ptr<sluice::testing::Subprocess>, std::string> StartServe(
    std::vector<std::string> args, const std::filesystem::path& logs,
    const std::vector<std::string>& env = {}) {
  std::filesystem::create_directories(logs);
  args.insert(args.begin(), {SLUICE_BINARY, "serve"});
  auto serve = std::make_unique<sluice::testing::Subprocess>(args, logs, std::nullopt, env);
  for (int i = 0; i < 200; ++i) {
    std::string text;
    for (const auto& entry : std::filesystem::directory_iterator(logs)) {
      if (entry.path().extension() != ".err") continue;
      std::ifstream in(entry.path());
      text.append(std::istreambuf_iterator<char>(in), {});
    }
    if (size_t at = text.find("listening on http://"); at != std::string::npos)
      return {std::move(serve), text.substr(at + 13, text.find(' ', at + 13) - at - 13)};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {std::move(serve), ""};
}

TEST_F(CliTest, ServeRunsAJobSubmittedOverHttpAndServesItsResults) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::vector<std::string> urls;
  std::ifstream lines(list);
  for (std::string line; std::getline(lines, line);) urls.push_back(line);
  std::ofstream(dir_.path() / "serve.toml")
      << "[[cycle]]\n[[cycle.item]]\nmethod = \"image.phash\"\n[[cycle.item]]\n"
         "method = \"image.embedding\"\n[[cycle.set]]\nmethod = \"set.summary\"\n";
  auto [serve, base] = StartServe(
      {"--listen", "127.0.0.1:0", "--no-auth", "--workers", "1", "--poll", "0.1", "--allow-private",
       "--data", data().string(), "--pipeline", (dir_.path() / "serve.toml").string()},
      dir_.path() / "serve-logs");
  ASSERT_FALSE(base.empty());

  runtime::Runtime rt;
  auto client = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
  auto call = [&](std::string method, std::string path, std::string body = "",
                  std::string content_type = "") {
    http::ClientRequest request{.method = std::move(method),
                                .url = base + path,
                                .body = std::move(body),
                                .addresses = {.allow_private = true}};
    if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
    Result<http::ClientResponse> response = rt.Run(http::Send(*client, std::move(request)));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : http::ClientResponse{};
  };
  boost::json::object job_request{{"set", "images"},
                                  {"urls", boost::json::array(urls.begin(), urls.end())}};
  http::ClientResponse submitted = call("POST", "/v1/jobs", boost::json::serialize(job_request));
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  std::string location = submitted.Header("location");
  std::string state;
  for (int i = 0; i < 300 && state != "done"; ++i) {
    state = std::string(Json(call("GET", location).body)["state"].as_string());
    if (state != "done") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  boost::json::object status = Json(call("GET", location).body);
  EXPECT_EQ(status["state"].as_string(), "done");
  EXPECT_EQ(status["items_ok"].as_int64(), 3);
  boost::json::object items = Json(call("GET", "/v1/sets/images/items").body);
  ASSERT_EQ(items["items"].as_array().size(), 3u);
  EXPECT_TRUE(items["items"].at(0).at("steps").as_object().contains("image.phash"));
  EXPECT_TRUE(items["set_results"].as_object().contains("set.summary"));

  // Look-alikes through the index the worker's commit fed: by stored content, and by a picture
  // sent as the body.
  std::string first_sha = Sha256::HexOf(bodies[0]), second_sha = Sha256::HexOf(bodies[1]);
  boost::json::object by_sha = Json(call("GET", "/v1/search?k=2&like=" + first_sha).body);
  ASSERT_EQ(by_sha["hits"].as_array().size(), 2u) << boost::json::serialize(by_sha);
  EXPECT_EQ(by_sha["hits"].at(0).at("sha256").as_string(), first_sha);
  boost::json::object by_picture = Json(call("POST", "/v1/search?k=1", bodies[1]).body);
  ASSERT_EQ(by_picture["hits"].as_array().size(), 1u) << boost::json::serialize(by_picture);
  EXPECT_EQ(by_picture["hits"].at(0).at("sha256").as_string(), second_sha);
  EXPECT_EQ(call("GET", "/v1/search?text=red").status, 400) << "a picture-only model";
  // By a vector the caller has: the stored embedding of the second picture finds it first.
  boost::json::object stored = Json(call("GET", "/v1/items/" + second_sha + "?vectors=true").body);
  boost::json::object vector_query{
      {"vector", stored["items"].at(0).at("steps").at("image.embedding").at("vector")}};
  boost::json::object by_vector =
      Json(call("POST", "/v1/search?k=1", boost::json::serialize(vector_query), "application/json")
               .body);
  ASSERT_EQ(by_vector["hits"].as_array().size(), 1u) << boost::json::serialize(by_vector);
  EXPECT_EQ(by_vector["hits"].at(0).at("sha256").as_string(), second_sha);
  EXPECT_EQ(call("POST", "/v1/search", R"({"vector": [1, 2, 3]})", "application/json").status, 404)
      << "no index of 3 dimensions";
  EXPECT_EQ(call("POST", "/v1/search", R"({"vector": ["a"]})", "application/json").status, 400);
  EXPECT_EQ(call("GET", "/v1/search?like=../../etc/passwd").status, 400);
  http::ClientResponse media = call("GET", "/v1/media/" + first_sha);
  EXPECT_EQ(media.body, bodies[0]) << "the stored bytes are the origin's";
  EXPECT_EQ(media.Header("content-type"), "image/png");
  std::string scrape = call("GET", "/metrics").body;
  for (const char* line :
       {"sluice_jobs{state=\"done\"} 1\n", "sluice_items_fetched_total 3\n",
        "sluice_step_seconds_count{method=\"image.phash\"} 3\n", "sluice_sets_in_flight 0\n",
        "sluice_provider_calls_total{provider=\"openai\"} 0\n",
        "sluice_provider_breaker_state{provider=\"openai\"} 0\n"})
    EXPECT_NE(scrape.find(line), std::string::npos) << line << scrape;

  // The real-time path: a picture sent as the body is stored, analysed by the pipeline's item
  // steps and answered at once, into set "realtime" and the index.
  cv::Mat picture(90, 160, CV_8UC3, cv::Scalar(40, 180, 250));
  cv::putText(picture, "NOW", cv::Point(30, 60), cv::FONT_HERSHEY_SIMPLEX, 1.4,
              cv::Scalar(20, 20, 20), 3);
  std::vector<uchar> png;
  cv::imencode(".png", picture, png);
  std::string upload(png.begin(), png.end()), upload_sha = Sha256::HexOf(upload);
  http::ClientResponse analysed = call("POST", "/v1/analyze?timeout=120", upload, "image/png");
  ASSERT_EQ(analysed.status, 200) << analysed.body;
  boost::json::object now = Json(analysed.body);
  EXPECT_EQ(now["set"].as_string(), "realtime");
  EXPECT_EQ(now["sha256"].as_string(), upload_sha);
  EXPECT_EQ(now["url"].as_string(), "upload:" + upload_sha);
  EXPECT_EQ(now["steps_run"].as_int64(), 2);
  EXPECT_EQ(now["steps"].at("image.embedding").at("vector").as_array().size(), 1280u);
  EXPECT_TRUE(now["steps"].as_object().contains("image.phash"));
  boost::json::object found = Json(call("GET", "/v1/search?k=1&like=" + upload_sha).body);
  ASSERT_EQ(found["hits"].as_array().size(), 1u) << boost::json::serialize(found);
  EXPECT_EQ(found["hits"].at(0).at("sha256").as_string(), upload_sha) << "in the index at once";
  EXPECT_EQ(Json(call("GET", "/v1/items/" + upload_sha).body)["items"].at(0).at("set").as_string(),
            "realtime");
  // A URL through the same fetch guard, into a set that was run: known content comes from the
  // result cache, and the set's other items and its set results stay.
  boost::json::object by_url{{"url", urls[0]}, {"set", "images"}};
  http::ClientResponse again =
      call("POST", "/v1/analyze", boost::json::serialize(by_url), "application/json");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(Json(again.body)["steps_run"].as_int64(), 0) << again.body;
  EXPECT_EQ(Json(again.body)["steps_cached"].as_int64(), 2) << again.body;
  boost::json::object after = Json(call("GET", "/v1/sets/images/items").body);
  EXPECT_EQ(after["items"].as_array().size(), 3u);
  EXPECT_TRUE(after["set_results"].as_object().contains("set.summary"));
  EXPECT_EQ(after["items"].at(2).at("steps").as_object().size(), 2u);
  http::ClientResponse html = call("POST", "/v1/analyze", "<!doctype html><p>hi", "text/html");
  EXPECT_EQ(html.status, 400);
  EXPECT_EQ(Json(html.body)["cause"].as_string(), "unsupported_content");
  EXPECT_EQ(call("POST", "/v1/analyze", R"({"url": 5})", "application/json").status, 400);
  http::ClientResponse unknown = call("POST", "/v1/analyze?pipeline=nope", upload, "image/png");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("nope"), std::string::npos) << unknown.body;

  serve->Kill(SIGTERM);
  ProcessResult stopped = serve->Wait();
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;

  ProcessResult open =
      Sluice({"serve", "--listen", "0.0.0.0:0", "--no-auth", "--data", data().string()});
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_NE(open.err.find("--no-auth serves anyone who can connect"), std::string::npos)
      << open.err;
  EXPECT_EQ(Sluice({"serve", "--listen", "nowhere", "--no-auth"}).exit_code, 2);

  // With keys: made and revoked through the CLI, sent as a bearer token.
  ProcessResult made = Sluice({"keys", "create", "--name", "ci", "--data", data().string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string key(Trim(made.out));
  EXPECT_TRUE(key.starts_with("sk_")) << key;
  EXPECT_EQ(Sluice({"keys", "create", "--name", "ci", "--data", data().string()}).exit_code, 2);
  auto [keyed, keyed_base] =
      StartServe({"--listen", "127.0.0.1:0", "--data", data().string()}, dir_.path() / "keyed");
  ASSERT_FALSE(keyed_base.empty());
  base = keyed_base;
  EXPECT_EQ(call("GET", "/v1/sets").status, 401);
  http::ClientRequest with_key{.url = base + "/v1/sets",
                               .headers = {{"Authorization", "Bearer " + key}},
                               .addresses = {.allow_private = true}};
  Result<http::ClientResponse> allowed = rt.Run(http::Send(*client, std::move(with_key)));
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  keyed->Kill(SIGTERM);
  EXPECT_EQ(keyed->Wait().exit_code, 130);
  ProcessResult listed = Sluice({"keys", "list", "--data", data().string()});
  EXPECT_NE(listed.out.find("in force"), std::string::npos) << listed.out;
  EXPECT_EQ(Sluice({"keys", "revoke", "ci", "--data", data().string()}).exit_code, 0);
  EXPECT_NE(Sluice({"keys", "list", "--data", data().string()}).out.find("revoked"),
            std::string::npos);
}

// The service as a fleet runs it: Postgres and S3 (s3rver) behind `sluice serve --workers 1`.
// A job submitted twice with one Idempotency-Key is one job; it runs to done and its media come
// back from S3 byte for byte; a job cancelled before it commits is dead with cause "cancelled"
// and a retry runs it to done.
TEST_F(CliTest, ServeOnPostgresAndS3RunsJobsAndServesTheirMedia) {
  auto s3 = testing::S3rver::Start();
  ASSERT_TRUE(s3.ok()) << s3.status();
  Result<std::string> db = testing::FreshPostgresDatabase();
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::vector<std::string> urls;
  std::ifstream lines(list);
  for (std::string line; std::getline(lines, line);) urls.push_back(line);
  std::vector<std::string> env = {
      "AWS_ENDPOINT_URL=" + (*s3)->endpoint(),
      std::string("AWS_ACCESS_KEY_ID=") + testing::S3rver::kAccessKey,
      std::string("AWS_SECRET_ACCESS_KEY=") + testing::S3rver::kSecretKey, "AWS_REGION=us-east-1"};
  auto [serve, base] =
      StartServe({"--listen", "127.0.0.1:0", "--no-auth", "--workers", "1", "--poll", "0.1",
                  "--allow-private", "--data", data().string(), "--db", *db, "--store",
                  "s3://sluice-test/service", "--pipeline", (dir_.path() / "cheap.toml").string()},
                 dir_.path() / "serve-logs", env);
  ASSERT_FALSE(base.empty());

  runtime::Runtime rt;
  auto client = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
  auto call = [&](std::string method, std::string path, std::string body = "",
                  std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::ClientRequest request{.method = std::move(method),
                                .url = base + path,
                                .headers = std::move(headers),
                                .body = std::move(body),
                                .addresses = {.allow_private = true}};
    Result<http::ClientResponse> response = rt.Run(http::Send(*client, std::move(request)));
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : http::ClientResponse{};
  };
  auto wait_for = [&](const std::string& location, std::string_view state) {
    boost::json::object job;
    for (int i = 0; i < 600; ++i) {
      job = Json(call("GET", location).body);
      if (job["state"].as_string() == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return job;
  };
  std::string job_body = boost::json::serialize(boost::json::object{
      {"set", "fleet-a"}, {"urls", boost::json::array(urls.begin(), urls.end())}});
  std::vector<std::pair<std::string, std::string>> once = {{"Idempotency-Key", "fleet-a-1"},
                                                           {"Content-Type", "application/json"}};
  http::ClientResponse first = call("POST", "/v1/jobs", job_body, once);
  ASSERT_EQ(first.status, 202) << first.body;
  http::ClientResponse repeat = call("POST", "/v1/jobs", job_body, once);
  EXPECT_EQ(repeat.status, 200) << "the same key: the same job, not another";
  EXPECT_EQ(Json(repeat.body)["token"], Json(first.body)["token"]);
  boost::json::object done = wait_for(first.Header("location"), "done");
  EXPECT_EQ(done["state"].as_string(), "done") << boost::json::serialize(done);
  EXPECT_EQ(done["items_ok"].as_int64(), 3);
  boost::json::object items = Json(call("GET", "/v1/sets/fleet-a/items").body);
  ASSERT_EQ(items["items"].as_array().size(), 3u) << boost::json::serialize(items);
  for (const std::string& body : bodies) {
    http::ClientResponse media = call("GET", "/v1/media/" + Sha256::HexOf(body));
    EXPECT_EQ(media.status, 200);
    EXPECT_EQ(media.body, body) << "the bytes S3 holds are the origin's";
  }
  EXPECT_EQ(
      call("GET", "/v1/jobs?state=done")
              .body.find(std::string(Json(first.body)["token"].as_string())) != std::string::npos,
      true);

  // Cancelled before it commits (its one URL answers after 3 s): dead, cause "cancelled", and
  // the worker's commit is refused; a retry runs it to done.
  std::string slow_body = bodies[0] + "slow";
  origin_.Route("/slow.png", [&](const HttpRequest& r, int) {
    HttpReply reply = ServeBytes(r, slow_body, "image/png");
    reply.delay = std::chrono::milliseconds(3000);
    return reply;
  });
  std::string second_body = boost::json::serialize(boost::json::object{
      {"set", "fleet-b"}, {"urls", boost::json::array{origin_.Url("/slow.png")}}});
  http::ClientResponse second =
      call("POST", "/v1/jobs", second_body, {{"Content-Type", "application/json"}});
  ASSERT_EQ(second.status, 202) << second.body;
  std::string location = second.Header("location");
  http::ClientResponse cancelled = call("DELETE", location);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(Json(cancelled.body)["state"].as_string(), "dead");
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));  // past the fetch and commit
  boost::json::object dead = Json(call("GET", location).body);
  EXPECT_EQ(dead["state"].as_string(), "dead") << boost::json::serialize(dead);
  EXPECT_EQ(dead["failure"].at("cause").as_string(), "cancelled");
  EXPECT_EQ(Json(call("GET", "/v1/sets/fleet-b/items").body)["set_results"].is_null(), true)
      << "the refused commit wrote no results";
  EXPECT_EQ(call("POST", location + "/retry").status, 200);
  EXPECT_EQ(wait_for(location, "done")["state"].as_string(), "done");
  EXPECT_EQ(call("DELETE", first.Header("location")).status, 409) << "done jobs stay done";
  http::ClientResponse ready = call("GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(Json(ready.body)["checks"].at("provider openai").as_string(), "ok") << ready.body;
  serve->Kill(SIGTERM);
  EXPECT_EQ(serve->Wait().exit_code, 130);
}

}  // namespace
}  // namespace sluice::cli

namespace sluice::cli {
namespace {

// `sluice doctor` on the embedded defaults: everything local answers; nothing AWS is asked.
TEST_F(CliTest, DoctorChecksTheEmbeddedDefaults) {
  auto fake = testing::FakeProvider::Start();
  ASSERT_TRUE(fake.ok());
  ProcessResult doctor = testing::RunProcess(
      {SLUICE_BINARY, "doctor", "--data", data().string()}, dir_.path(), std::nullopt,
      {"OPENAI_BASE_URL=" + (*fake)->openai_url(), "OPENAI_API_KEY=sk-test"});
  ASSERT_EQ(doctor.exit_code, 0) << doctor.out << doctor.err;
  EXPECT_NE(doctor.out.find("aws        not used"), std::string::npos) << doctor.out;
  EXPECT_NE(doctor.out.find(StrCat("database   ", (data() / "sluice.db").string(), ": ok")),
            std::string::npos)
      << doctor.out;
  EXPECT_NE(doctor.out.find("objects    "), std::string::npos) << doctor.out;
  EXPECT_NE(doctor.out.find(StrCat("provider   openai (openai, ", (*fake)->openai_url(), "): ok")),
            std::string::npos)
      << doctor.out;
  EXPECT_EQ((*fake)->requests_of("models"), 1);

  // A key the provider refuses, a profile that does not exist: named, and the exit says so.
  (*fake).reset();
  ProcessResult broken = testing::RunProcess(
      {SLUICE_BINARY, "doctor", "--data", data().string(), "--store", "s3://bucket/p"}, dir_.path(),
      std::nullopt,
      {"AWS_PROFILE=nope", "HOME=" + dir_.path().string(),
       "OPENAI_BASE_URL=http://127.0.0.1:9/v1"});
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.out.find("aws        credentials: FAILED: AWS_PROFILE=nope: no such profile"),
            std::string::npos)
      << broken.out;
  EXPECT_NE(broken.out.find("s3://bucket/p needs AWS credentials"), std::string::npos)
      << broken.out;
  EXPECT_NE(broken.out.find("provider   openai (openai, http://127.0.0.1:9/v1): FAILED"),
            std::string::npos)
      << broken.out;
}

// Temporary credentials from the container endpoint (as ECS and EKS Pod Identity give them)
// sign every S3 request of a run, refreshed while it runs; `doctor` names the source. The
// endpoint's keys live 4 s and are refreshed 5 minutes before they expire, so the run fetches
// them again and again (s3rver checks signatures against its fixed pair, which the fake hands
// out with a new session token each time).
TEST_F(CliTest, ContainerCredentialsSignTheS3RequestsOfARun) {
  auto server = testing::S3rver::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  testing::FakeAws aws(std::chrono::seconds(4));
  aws.set_fixed_keys(testing::S3rver::kAccessKey, testing::S3rver::kSecretKey);
  std::vector<std::string> env = {
      "AWS_ENDPOINT_URL=" + (*server)->endpoint(), "AWS_REGION=us-east-1",
      "AWS_CONTAINER_CREDENTIALS_FULL_URI=" + aws.container_uri(),
      StrCat("AWS_CONTAINER_AUTHORIZATION_TOKEN=", testing::FakeAws::kContainerToken),
      "HOME=" + dir_.path().string()};
  ProcessResult doctor = testing::RunProcess(
      {SLUICE_BINARY, "doctor", "--data", data().string(), "--store", "s3://sluice-test/doc"},
      dir_.path(), std::nullopt, env);
  ASSERT_EQ(doctor.exit_code, 0) << doctor.out << doctor.err;
  EXPECT_NE(doctor.out.find(StrCat("aws        credentials from container endpoint ",
                                   aws.container_uri(), ": ok")),
            std::string::npos)
      << doctor.out;
  EXPECT_NE(doctor.out.find("key S3RV…RVER, temporary"), std::string::npos) << doctor.out;
  EXPECT_NE(doctor.out.find("objects    s3://sluice-test/doc"), std::string::npos) << doctor.out;

  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  int before = aws.issued();
  ProcessResult run = testing::RunProcess(
      {SLUICE_BINARY, "run", list.string(), "--data", data().string(), "--allow-private", "--json",
       "--pipeline", (dir_.path() / "cheap.toml").string(), "--store", "s3://sluice-test/doc"},
      dir_.path(), std::nullopt, env);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_EQ(Json(run.out).at("fetched"), 3);
  EXPECT_GE(aws.issued() - before, 2) << "keys refreshed during the run";
}

// Secrets stay out of what sluice prints and stores: a media URL's password, and an API key a
// provider echoes in its refusal (as some OpenAI-compatible proxies do), appear neither in the
// run's log, nor in the recorded failure details, nor in `results`.
TEST_F(CliTest, SecretsAreRedactedInLogsFailuresAndResults) {
  const std::string key = "local-proxy-key-0123456789abcdef";
  origin_.Route("/v1/chat/completions", [](const HttpRequest& r, int) {
    return HttpReply{.status = 401,
                     .headers = {{"Content-Type", "application/json"}},
                     .body = StrCat(R"({"error":{"message":"Invalid key: )",
                                    r.Header("authorization"), R"("}})")};
  });
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  std::string with_password = origin_.Url("/gone.jpg");
  with_password.insert(with_password.find("://") + 3, "ann:hunter2222@");
  std::ofstream(list, std::ios::app) << with_password << "\n";
  std::ofstream(dir_.path() / "tags.toml")
      << "[[cycle]]\n  [[cycle.item]]\n  method = \"llm.tags\"\n";
  std::ofstream(dir_.path() / "sluice.toml")
      << "[providers]\ndefault = \"proxy\"\n[providers.proxy]\nbase_url = \"" << origin_.Url("/v1")
      << "\"\napi_key_env = \"PROXY_KEY\"\nmax_attempts = 1\n";
  ProcessResult run = testing::RunProcess(
      {SLUICE_BINARY, "run", list.string(), "--data", data().string(), "--progress", "lines",
       "--allow-private", "--pipeline", (dir_.path() / "tags.toml").string(), "--config",
       (dir_.path() / "sluice.toml").string()},
      dir_.path(), std::nullopt, {"PROXY_KEY=" + key});
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  std::string everything = run.out + run.err;
  EXPECT_NE(everything.find("ann:***@"), std::string::npos) << run.err;
  EXPECT_EQ(everything.find("hunter2222"), std::string::npos) << run.err;
  EXPECT_EQ(everything.find(key), std::string::npos) << run.err;

  auto catalog = db::SqliteCatalog::Open(data() / "sluice.db");
  ASSERT_TRUE(catalog.ok());
  ProcessResult results = Sluice({"results", "--data", data().string(), "--set", "images"});
  ProcessResult jsonl =
      Sluice({"results", "--data", data().string(), "--set", "images", "--format", "jsonl"});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_NE(jsonl.out.find("Invalid key: Bearer ***"), std::string::npos) << jsonl.out;
  for (const std::string& shown : {results.out, jsonl.out}) {
    EXPECT_EQ(shown.find(key), std::string::npos) << shown;
  }
  EXPECT_EQ(results.out.find("hunter2222"), std::string::npos) << results.out;
}

// The data directory on a small tmpfs that fills mid-run. With the database elsewhere, the
// items that find no room fail with no_space and the set records the rest; with the database
// on the full disk too, the run stops saying the disk is full. Either way a rerun, once space is
// freed, continues where the first stopped and loses nothing.
TEST_F(CliTest, AFullDiskFailsItemsWithNoSpaceAndARerunContinuesOnceSpaceIsFreed) {
  std::filesystem::path small = dir_.path() / "small";
  std::filesystem::create_directories(small);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=5m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct Unmount {
    std::filesystem::path at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{small};
  std::filesystem::path image = testing::MakeTextImage(dir_.path(), "base.png", "FULL");
  std::ifstream in(image, std::ios::binary);
  std::string picture(std::istreambuf_iterator<char>(in), {});
  std::mt19937 random(7);
  std::vector<std::string> urls;
  for (int i = 0; i < 12; ++i) {
    std::string body = picture;
    for (int b = 0; b < 700'000; ++b) body += static_cast<char>(random());
    origin_.Route(StrCat("/big/", i, ".png"),
                  [body](const HttpRequest& r, int) { return ServeBytes(r, body, "image/png"); });
    urls.push_back(origin_.Url(StrCat("/big/", i, ".png")));
  }
  std::filesystem::path list = WriteList(urls, "big.txt");
  std::string elsewhere = "sqlite://" + (dir_.path() / "elsewhere.db").string();
  std::vector<std::string> run = {"run",        list.string(), "--data",       small.string(),
                                  "--db",       elsewhere,     "--fetch-only", "--allow-private",
                                  "--progress", "lines"};
  ProcessResult full = Sluice(run);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto catalog = db::SqliteCatalog::Open(dir_.path() / "elsewhere.db");
  ASSERT_TRUE(catalog.ok());
  Result<std::vector<db::ItemRecord>> items = (*catalog)->ListItems("big");
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 12u);
  int failed = 0;
  for (const db::ItemRecord& item : *items) {
    if (item.status == db::ItemStatus::kOk) continue;
    ++failed;
    EXPECT_EQ(item.failure_cause, "no_space") << item.failure_details;
  }
  EXPECT_GT(failed, 0) << "5 MB cannot hold 12 bodies of 700 kB";
  EXPECT_LT(failed, 12);

  ASSERT_EQ(mount("tmpfs", small.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0)
      << std::strerror(errno);
  ProcessResult freed = Sluice(run);
  ASSERT_EQ(freed.exit_code, 0) << freed.err;
  EXPECT_NE((freed.out + freed.err).find(StrCat(12 - failed, " already done")), std::string::npos)
      << freed.out << freed.err;
  items = (*catalog)->ListItems("big");
  ASSERT_TRUE(items.ok());
  for (const db::ItemRecord& item : *items) EXPECT_EQ(item.status, db::ItemStatus::kOk) << item.url;

  // The database on the full disk too: the run stops and says so; a rerun after freeing space
  // completes.
  std::filesystem::path second = dir_.path() / "second";
  std::filesystem::create_directories(second);
  ASSERT_EQ(mount("tmpfs", second.c_str(), "tmpfs", 0, "size=5m"), 0);
  Unmount unmount_second{second};
  std::vector<std::string> inside = {"run",           list.string(),  "--data",
                                     second.string(), "--fetch-only", "--allow-private",
                                     "--progress",    "none"};
  ProcessResult stopped = Sluice(inside);
  if (stopped.exit_code != 0) {
    EXPECT_EQ(stopped.exit_code, 1);
    EXPECT_NE(stopped.err.find("is full: free space and run again"), std::string::npos)
        << stopped.err;
  }
  ASSERT_EQ(mount("tmpfs", second.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0);
  ProcessResult rerun = Sluice(inside);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_NE((rerun.out + rerun.err).find("12 items, 12 ok"), std::string::npos)
      << rerun.out << rerun.err;
}

// An object whose bytes no longer match its key (a disk error, a hand edit) and one that is
// gone are found by `sluice verify` and fetched again by `--repair`; an origin that now serves
// other bytes is reported, not stored under the old key.
TEST_F(CliTest, VerifyFindsDamagedAndMissingObjectsAndRepairFetchesThemAgain) {
  std::vector<std::string> bodies;
  std::filesystem::path list = ServeImagesWithPipeline(origin_, dir_.path(), bodies);
  ProcessResult run = Sluice(RunArgs(list, {"--allow-private", "--fetch-only"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ProcessResult clean = Sluice({"verify", "--data", data().string()});
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("verify: 3 objects"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("0 missing or damaged"), std::string::npos) << clean.out;

  auto object_of = [&](const std::string& body) {
    std::string sha = Sha256::HexOf(body);
    return data() / "objects" / sha.substr(0, 2) / sha;
  };
  auto damage = [](const std::filesystem::path& object) {
    std::filesystem::permissions(object, std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    std::fstream file(object, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(40);
    file.put('\x7f');
  };
  ASSERT_TRUE(std::filesystem::exists(object_of(bodies[0])));
  damage(object_of(bodies[0]));
  std::filesystem::remove(object_of(bodies[1]));
  ProcessResult found = Sluice({"verify", "--data", data().string(), "--json"});
  EXPECT_EQ(found.exit_code, 1) << found.err;
  boost::json::object report = Json(found.out);
  EXPECT_EQ(report.at("checked"), 3);
  ASSERT_EQ(report.at("problems").as_array().size(), 2u) << found.out;
  EXPECT_NE(found.out.find("\"damaged\""), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("\"missing\""), std::string::npos) << found.out;

  ProcessResult repaired =
      Sluice({"verify", "--data", data().string(), "--repair", "--allow-private"});
  ASSERT_EQ(repaired.exit_code, 0) << repaired.out << repaired.err;
  EXPECT_NE(repaired.out.find("2 repaired"), std::string::npos) << repaired.out;
  EXPECT_EQ(Sluice({"verify", "--data", data().string()}).exit_code, 0);

  // The origin changed the picture since: the damaged object is reported, the new bytes are
  // not stored under the old key.
  damage(object_of(bodies[2]));
  origin_.Route("/img2.png", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(5000, 99), "image/jpeg");
  });
  ProcessResult changed =
      Sluice({"verify", "--data", data().string(), "--repair", "--allow-private"});
  EXPECT_EQ(changed.exit_code, 1) << changed.out << changed.err;
  EXPECT_NE(changed.out.find("the origin now serves other bytes"), std::string::npos)
      << changed.out;
}

// A data directory that belongs to another user: every command says so and exits 1, none
// crashes (`results` used to die on an uncaught filesystem error).
TEST_F(CliTest, ADataDirectoryOfAnotherUserIsAClearError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run sluice as another user";
  std::filesystem::path shared = dir_.path() / "shared";
  std::filesystem::create_directories(shared / "data");
  std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
  std::filesystem::permissions(shared, std::filesystem::perms::all);
  std::filesystem::permissions(shared / "data", std::filesystem::perms::owner_all);
  std::filesystem::path list = shared / "urls.txt";
  std::ofstream(list) << origin_.Url("/absent.png") << "\n";
  std::filesystem::permissions(list, std::filesystem::perms::all);
  for (std::vector<std::string> command :
       {std::vector<std::string>{"run", list.string()}, std::vector<std::string>{"results"},
        std::vector<std::string>{"verify"}}) {
    std::vector<std::string> args = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                     "--clear-groups", SLUICE_BINARY};
    args.insert(args.end(), command.begin(), command.end());
    args.insert(args.end(), {"--data", (shared / "data").string()});
    ProcessResult refused = testing::RunProcess(args, shared);
    EXPECT_EQ(refused.exit_code, 1) << command[0] << ": " << refused.err;
    EXPECT_NE(refused.err.find("owned by uid 0; this process runs as uid 65534"), std::string::npos)
        << command[0] << ": " << refused.err;
  }
}

}  // namespace
}  // namespace sluice::cli
