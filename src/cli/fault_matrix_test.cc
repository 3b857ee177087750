// The fault matrix: every dependency sluice talks to over the network (Postgres, the S3 store,
// an SQS queue, the model server, the media origin) behind a FaultProxy, under every fault it
// plays (latency, a bandwidth limit, a stall, a reset mid-stream, a half-open connection, a
// refusal, a keep-alive connection closed as the client reuses it), for two seconds in the
// middle of a run of the real binary.
//
// What must hold in every cell: the run either records every item (ok, or failed with a cause)
// or stops with a clear error and a rerun without the fault completes; a set commits once per
// successful run; every object under a content key holds exactly the bytes of that key; a
// message from SQS becomes exactly one job, done, and leaves the queue.
//
// docs/fault-matrix.md is generated from these cells' results (scripts/fault-matrix.sh).
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <thread>

#include "common/sha256.h"
#include "common/strings.h"
#include "db/postgres/postgres_catalog.h"
#include "http/curl_client.h"
#include "runtime/runtime.h"
#include "storage/s3/s3_blob_store.h"
#include "testing/fake_provider.h"
#include "testing/fault_proxy.h"
#include "testing/fixtures.h"
#include "testing/origin.h"
#include "testing/strict_sqs.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;
using http::HttpReply;
using http::HttpRequest;
using testing::Fault;
using testing::FaultProxy;
using testing::FaultSettings;
using testing::ProcessResult;
using testing::Subprocess;

enum class Dependency { kPostgres, kS3, kSqs, kModelServer, kOrigin };

const char* DependencyName(Dependency dependency) {
  switch (dependency) {
    case Dependency::kPostgres:
      return "postgres";
    case Dependency::kS3:
      return "s3";
    case Dependency::kSqs:
      return "sqs";
    case Dependency::kModelServer:
      return "model_server";
    case Dependency::kOrigin:
      return "origin";
  }
  return "?";
}

constexpr int kItems = 10;
constexpr const char* kSet = "matrix";
// How long a message received from the queue stays invisible; the worker renews it at half.
constexpr auto kSqsVisibility = std::chrono::seconds(4);
constexpr const char* kPipeline = R"(
name = "fault-matrix"
[[cycle]]
  [[cycle.item]]
  method = "image.phash"
  [[cycle.item]]
  method = "llm.tags"
  [[cycle.set]]
  method = "set.summary"
)";

// The port in a URI or URL ("…://host:PORT/…") replaced by `port`, the host by 127.0.0.1 or
// localhost as `host` says.
std::string ThroughPort(const std::string& uri, const std::string& host, int port) {
  size_t authority = uri.find("://") + 3;
  size_t at = uri.find('@', authority);
  size_t host_start = at == std::string::npos || at > uri.find('/', authority) ? authority : at + 1;
  size_t end = uri.find('/', host_start);
  return StrCat(uri.substr(0, host_start), host, ":", port, uri.substr(end));
}

int PortOf(const std::string& uri) {
  size_t authority = uri.find("://") + 3;
  size_t end = uri.find('/', authority);
  std::string hostport = uri.substr(authority, end - authority);
  hostport =
      hostport.substr(hostport.rfind('@') == std::string::npos ? 0 : hostport.rfind('@') + 1);
  return std::stoi(hostport.substr(hostport.rfind(':') + 1));
}

class FaultMatrixTest : public ::testing::TestWithParam<std::tuple<Dependency, Fault>> {
 protected:
  void SetUp() override {
    std::tie(dependency_, fault_) = GetParam();
    Result<std::string> uri = testing::FreshPostgresDatabase();
    ASSERT_TRUE(uri.ok()) << uri.status();
    db_uri_ = *uri;
    auto s3 = testing::S3rver::Start();
    ASSERT_TRUE(s3.ok()) << s3.status();
    s3_ = std::move(*s3);
    auto fake = testing::FakeProvider::Start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = std::move(*fake);
    // Distinct pictures of 40 kB and more, each answered after a moment, so that the run is
    // still fetching when the fault comes.
    std::filesystem::path image = testing::MakeTextImage(dir_.path(), "ad.png", "SALE", "400x300");
    std::ifstream in(image, std::ios::binary);
    std::string picture(std::istreambuf_iterator<char>(in), {});
    for (int i = 0; i < kItems; ++i) {
      std::string path = StrCat("/img/", i, ".png");
      std::string body = picture + std::string(40'000, static_cast<char>('a' + i)) + path;
      origin_.Route(path, [body](const HttpRequest& r, int) {
        HttpReply reply = http::ServeBytes(r, body, "image/png");
        reply.delay = 150ms;
        return reply;
      });
    }
    std::ofstream(dir_.path() / "pipeline.toml") << kPipeline;

    int target = 0;
    std::string host = "127.0.0.1";
    switch (dependency_) {
      case Dependency::kPostgres:
        target = PortOf(db_uri_);
        break;
      case Dependency::kS3:
        target = PortOf(s3_->endpoint() + "/");
        break;
      case Dependency::kModelServer:
        target = PortOf(fake_->openai_url());
        break;
      case Dependency::kOrigin:
        target = origin_.port();
        break;
      case Dependency::kSqs:
        // StrictSqs, not sqslite: a message whose receive answer the fault cut must come back
        // once its visibility runs out, as on SQS — sqslite keeps it invisible for ever.
        sqs_ = std::make_unique<testing::StrictSqs>(kSqsVisibility, kSet);
        target = sqs_->port();
        break;
    }
    auto proxy = FaultProxy::Start(host, target);
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = std::move(*proxy);
  }

  // The URL or URI of `dependency` as sluice is given it: through the proxy when it is the one
  // under test.
  std::string Via(Dependency dependency, const std::string& direct, const std::string& host) {
    return dependency == dependency_ ? ThroughPort(direct, host, proxy_->port()) : direct;
  }

  std::vector<std::string> Environment() {
    std::ofstream(dir_.path() / "sluice.toml")
        << "[providers]\ndefault = \"fake\"\n[providers.fake]\nbase_url = \""
        << Via(Dependency::kModelServer, fake_->openai_url(), "127.0.0.1")
        << "\"\nchat_model = \"fake-chat\"\ntimeout_seconds = 2\nmax_attempts = "
           "4\nbreaker_open_seconds = 3\n";
    return {"SLUICE_DB=" + Via(Dependency::kPostgres, db_uri_, "127.0.0.1"),
            StrCat("SLUICE_STORE=s3://", s3_->bucket(), "/matrix"),
            "AWS_ENDPOINT_URL=" + Via(Dependency::kS3, s3_->endpoint() + "/", "127.0.0.1"),
            StrCat("AWS_ACCESS_KEY_ID=", testing::S3rver::kAccessKey),
            StrCat("AWS_SECRET_ACCESS_KEY=", testing::S3rver::kSecretKey),
            "AWS_REGION=us-east-1",
            "SLUICE_CONFIG=" + (dir_.path() / "sluice.toml").string()};
  }

  std::vector<std::string> Urls() {
    std::vector<std::string> urls;
    for (int i = 0; i < kItems; ++i)
      urls.push_back(
          Via(Dependency::kOrigin, origin_.Url(StrCat("/img/", i, ".png")), "127.0.0.1"));
    return urls;
  }

  // Runs `args` with the fault on from 300 ms to 2.3 s after the start — for SQS from the start
  // to 4 s, as a worker's exchanges with the queue (receive, delete) come first and an idle
  // worker then receives once a second; what it printed.
  ProcessResult RunUnderFault(const std::vector<std::string>& args, const std::string& name) {
    std::filesystem::path logs = dir_.path() / name;
    std::filesystem::create_directories(logs);
    // The model server's and the queue's answers are a few hundred bytes: a reset after 2000
    // bytes might come on no connection within the window, so there it comes within the first
    // answer (for SQS: the receive that hands out the message, which must come back).
    bool small_answers = dependency_ == Dependency::kModelServer || dependency_ == Dependency::kSqs;
    FaultSettings faulty{.fault = fault_,
                         .latency = 300ms,
                         .bytes_per_second = 32 * 1024,
                         .reset_after = small_answers ? 200 : 2000};
    bool from_start = dependency_ == Dependency::kSqs;
    if (from_start) proxy_->Set(faulty);
    Subprocess process(args, logs, std::nullopt, Environment());
    if (!from_start) {
      std::this_thread::sleep_for(300ms);
      proxy_->Set(faulty);
    }
    std::this_thread::sleep_for(from_start ? 4s : 2s);
    proxy_->Set(Fault::kNone);
    return process.Wait();
  }

  ProcessResult RunClean(const std::vector<std::string>& args, const std::string& name) {
    std::filesystem::path logs = dir_.path() / name;
    std::filesystem::create_directories(logs);
    proxy_->Set(Fault::kNone);
    return testing::RunProcess(args, logs, std::nullopt, Environment());
  }

  std::vector<std::string> CommonFlags() {
    return {"--data",
            (dir_.path() / "data").string(),
            "--pipeline",
            (dir_.path() / "pipeline.toml").string(),
            "--allow-private",
            "--stall-timeout",
            "2",
            "--connect-timeout",
            "2"};
  }

  // Every object under a content key holds the bytes of that key.
  void ExpectObjectsMatchTheirKeys() {
    runtime::Runtime rt;
    auto client = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
    storage::S3BlobStore store(*client, rt.loop_executor(), rt.blocking(),
                               {.endpoint = s3_->endpoint(),
                                .bucket = s3_->bucket(),
                                .prefix = "matrix",
                                .credentials = {.access_key = testing::S3rver::kAccessKey,
                                                .secret_key = testing::S3rver::kSecretKey,
                                                .region = "us-east-1"},
                                .allow_private = true});
    Result<std::vector<storage::BlobInfo>> objects = rt.Run(store.List("objects/"));
    ASSERT_TRUE(objects.ok()) << objects.status();
    for (const storage::BlobInfo& object : *objects) {
      std::string sha = object.key.substr(object.key.rfind('/') + 1);
      Result<std::string> bytes = rt.Run(store.Get(object.key, std::nullopt));
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(Sha256::HexOf(*bytes), sha) << object.key << " holds other bytes than its key says";
    }
  }

  std::unique_ptr<db::PostgresCatalog> Database() {
    auto db = db::PostgresCatalog::Open(db_uri_);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // Every URL has one item row: ok with its object, or failed with a cause. Counts them into
  // the cell's report.
  void ExpectEveryItemRecorded(db::PostgresCatalog& db) {
    Result<std::vector<db::ItemRecord>> items = db.ListItems(kSet);
    ASSERT_TRUE(items.ok()) << items.status();
    EXPECT_EQ(items->size(), static_cast<size_t>(kItems));
    for (const db::ItemRecord& item : *items) {
      if (item.status == db::ItemStatus::kOk) {
        EXPECT_FALSE(item.sha256.empty()) << item.url;
        ++ok_;
      } else {
        EXPECT_FALSE(item.failure_cause.empty()) << item.url << " failed without a cause";
        ++failed_by_cause_[item.failure_cause];
      }
    }
  }

  // The cell's outcome as one JSON object in the report folder, which scripts/fault-matrix.sh
  // turns into docs/fault-matrix.md.
  void Report(const std::string& outcome) {
    std::filesystem::create_directories(SLUICE_FAULT_MATRIX_DIR);
    boost::json::object causes;
    for (const auto& [cause, count] : failed_by_cause_) causes[cause] = count;
    boost::json::object cell{{"dependency", DependencyName(dependency_)},
                             {"fault", testing::FaultName(fault_)},
                             {"outcome", outcome},
                             {"connections_affected", proxy_->affected()},
                             {"items_ok", ok_},
                             {"items_failed", std::move(causes)},
                             {"passed", !::testing::Test::HasFailure()}};
    std::ofstream(std::filesystem::path(SLUICE_FAULT_MATRIX_DIR) /
                  StrCat(DependencyName(dependency_), "_", testing::FaultName(fault_), ".json"))
        << boost::json::serialize(cell) << "\n";
  }

  int ok_ = 0;
  std::map<std::string, int> failed_by_cause_;

  Dependency dependency_;
  Fault fault_;
  testing::TempDir dir_;
  testing::ScriptedOrigin origin_;
  std::string db_uri_;
  std::unique_ptr<testing::S3rver> s3_;
  std::unique_ptr<testing::StrictSqs> sqs_;
  std::unique_ptr<testing::FakeProvider> fake_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_P(FaultMatrixTest, NothingIsLostAndNothingCommitsTwice) {
  if (dependency_ == Dependency::kSqs) {
    // A message names the set; a worker takes it from SQS through the proxy.
    std::vector<std::string> urls = Urls();
    std::string body = StrCat(R"({"set": ")", kSet, R"(", "urls": [)");
    for (size_t i = 0; i < urls.size(); ++i) StrAppend(body, i ? "," : "", "\"", urls[i], "\"");
    body += "]}";
    sqs_->Add(body);
    std::vector<std::string> args = {SLUICE_BINARY,
                                     "worker",
                                     "--exit-when-idle",
                                     "--sqs",
                                     ThroughPort(sqs_->queue_url(), "127.0.0.1", proxy_->port()),
                                     "--sqs-wait",
                                     "1",
                                     "--sqs-visibility",
                                     std::to_string(kSqsVisibility.count()),
                                     "--poll",
                                     "0.2"};
    std::vector<std::string> flags = CommonFlags();
    args.insert(args.end(), flags.begin(), flags.end());
    ProcessResult first = RunUnderFault(args, "first");
    // The worker leaves when the queue is idle, which a fault can fake (a receive answer cut,
    // its message invisible until its visibility runs out): run it again clean, once the
    // message is back, until it is gone.
    int runs_after = 0;
    for (int i = 0; i < 3 && sqs_->messages_left() > 0; ++i, ++runs_after) {
      for (int waited = 0; waited < 100 && sqs_->messages_visible() == 0; ++waited)
        std::this_thread::sleep_for(100ms);
      ProcessResult again = RunClean(args, StrCat("again-", i));
      EXPECT_EQ(again.exit_code, 0) << again.err;
    }
    EXPECT_EQ(sqs_->messages_left(), 0) << first.err;
    auto db = Database();
    ASSERT_TRUE(db);
    Result<std::vector<db::Job>> jobs = db->ListJobs(std::nullopt, 100);
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    ASSERT_EQ(jobs->size(), 1u) << "one job per message, however often it was received\n"
                                << first.err;
    EXPECT_EQ((*jobs)[0].state, db::JobState::kDone) << first.err;
    Result<std::vector<db::SetTotals>> sets = db->ListSets();
    ASSERT_TRUE(sets.ok());
    ASSERT_EQ(sets->size(), 1u);
    EXPECT_EQ(sets->at(0).commits, 1);
    ExpectEveryItemRecorded(*db);
    ExpectObjectsMatchTheirKeys();
    EXPECT_GT(proxy_->affected(), 0) << "the fault never touched sluice's traffic\n"
                                     << proxy_->connections() << " connections\n"
                                     << first.err;
    std::string outcome = first.exit_code == 0 && runs_after == 0
                              ? "finished"
                              : StrCat("finished after ", runs_after, " more worker run(s)");
    if (sqs_->redeliveries() > 0)
      StrAppend(outcome, "; message received again ×", sqs_->redeliveries());
    Report(outcome);
    return;
  }

  std::filesystem::path list = dir_.path() / "matrix.txt";
  {
    std::ofstream out(list);
    for (const std::string& url : Urls()) out << url << "\n";
  }
  std::vector<std::string> args = {SLUICE_BINARY, "run",   list.string(),   "--set", kSet,
                                   "--progress",  "lines", "--concurrency", "2"};
  std::vector<std::string> flags = CommonFlags();
  args.insert(args.end(), flags.begin(), flags.end());
  ProcessResult first = RunUnderFault(args, "first");
  int successful_runs = first.exit_code == 0 ? 1 : 0;
  std::string outcome = "finished";
  if (first.exit_code != 0) {
    size_t error = first.err.find("sluice: error: ");
    outcome = StrCat("stopped (",
                     error == std::string::npos
                         ? "no message"
                         : first.err.substr(error + 15, first.err.find('\n', error) - error - 15),
                     "); rerun finished");
    // A run that cannot go on says why, and a rerun once the dependency is back completes.
    EXPECT_NE(first.err.find("sluice: error: "), std::string::npos) << first.err;
    ProcessResult rerun = RunClean(args, "rerun");
    ASSERT_EQ(rerun.exit_code, 0) << first.err << "\n---\n" << rerun.err;
    ++successful_runs;
  }
  auto db = Database();
  ASSERT_TRUE(db);
  Result<std::vector<db::SetTotals>> sets = db->ListSets();
  ASSERT_TRUE(sets.ok()) << sets.status();
  ASSERT_EQ(sets->size(), 1u);
  EXPECT_EQ(sets->at(0).commits, successful_runs) << first.err;
  ExpectEveryItemRecorded(*db);
  ExpectObjectsMatchTheirKeys();
  EXPECT_GT(proxy_->affected(), 0) << "the fault never touched sluice's traffic";
  Report(outcome);
}

std::string CellName(const ::testing::TestParamInfo<std::tuple<Dependency, Fault>>& info) {
  return StrCat(DependencyName(std::get<0>(info.param)), "_",
                testing::FaultName(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(
    Cells, FaultMatrixTest,
    ::testing::Combine(::testing::Values(Dependency::kPostgres, Dependency::kS3, Dependency::kSqs,
                                         Dependency::kModelServer, Dependency::kOrigin),
                       ::testing::Values(Fault::kLatency, Fault::kBandwidth, Fault::kStall,
                                         Fault::kReset, Fault::kHalfOpen, Fault::kRefuse,
                                         Fault::kCloseIdle)),
    CellName);

}  // namespace
}  // namespace sluice::cli
