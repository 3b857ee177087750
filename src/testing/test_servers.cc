#include "testing/test_servers.h"

#include <absl/cleanup/cleanup.h>
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>

#include "common/strings.h"

namespace sluice::testing {
namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<NodeServer>> NodeServer::Start(
    const std::string& script,
    const std::function<std::vector<std::string>(int, const std::filesystem::path&)>& args) {
  std::filesystem::path path =
      std::filesystem::path(SLUICE_TEST_SERVERS_DIR) / "node_modules" / script;
  if (!std::filesystem::exists(path)) {
    return absl::FailedPreconditionError(StrCat(
        path.string(), " is not installed; run scripts/test-servers.sh (scripts/test.sh does)"));
  }
  std::unique_ptr<NodeServer> server(new NodeServer());
  server->port_ = FreePort();
  std::vector<std::string> argv = {"/usr/bin/env", "node", path.string()};
  for (std::string& arg : args(server->port_, server->dir_.path())) argv.push_back(std::move(arg));
  server->process_ = std::make_unique<Subprocess>(argv, server->dir_.path());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!Accepts(server->port_)) {
    if (std::chrono::steady_clock::now() > deadline)
      return absl::UnavailableError(StrCat(script, " did not listen on port ", server->port_));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return server;
}

NodeServer::~NodeServer() {
  if (process_) {
    process_->Kill(SIGTERM);
    process_->Wait();
  }
}

Result<std::unique_ptr<S3rver>> S3rver::Start(const std::string& bucket) {
  std::unique_ptr<S3rver> s3(new S3rver());
  s3->bucket_ = bucket;
  SLUICE_ASSIGN_OR_RETURN(
      s3->server_,
      NodeServer::Start("s3rver/bin/s3rver.js", [&](int port, const std::filesystem::path& dir) {
        std::filesystem::create_directories(dir / "data");
        return std::vector<std::string>{
            "-d",       (dir / "data").string(), "-a",  "127.0.0.1", "-p", std::to_string(port),
            "--silent", "--configure-bucket",    bucket};
      }));
  s3->port_ = s3->server_->port();
  return s3;
}

S3rver::~S3rver() = default;

Result<std::unique_ptr<Sqslite>> Sqslite::Start() {
  std::unique_ptr<Sqslite> sqs(new Sqslite());
  SLUICE_ASSIGN_OR_RETURN(
      sqs->server_,
      NodeServer::Start("sqslite/bin/cli.js", [](int port, const std::filesystem::path&) {
        return std::vector<std::string>{"--host", "127.0.0.1", "--port", std::to_string(port)};
      }));
  return sqs;
}

Result<std::string> Sqslite::Call(const std::vector<std::string>& form) {
  TempDir scratch;
  std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "--fail"};
  for (const std::string& field : form) {
    argv.push_back("--data-urlencode");
    argv.push_back(field);
  }
  argv.push_back(endpoint() + "/");
  ProcessResult answer = RunProcess(argv, scratch.path());
  if (answer.exit_code != 0)
    return absl::UnavailableError(StrCat(form.front(), " failed: ", answer.err, answer.out));
  return answer.out;
}

namespace {

// The text of the first <tag> after `after` in an SQS answer; nullopt when absent.
std::optional<std::string> XmlValue(const std::string& xml, std::string_view tag,
                                    std::string_view after = "") {
  size_t from = after.empty() ? 0 : xml.find(after);
  if (from == std::string::npos) return std::nullopt;
  std::string open = StrCat("<", tag, ">"), close = StrCat("</", tag, ">");
  size_t start = xml.find(open, from);
  size_t end = start == std::string::npos ? start : xml.find(close, start);
  if (end == std::string::npos) return std::nullopt;
  start += open.size();
  return xml.substr(start, end - start);
}

}  // namespace

Result<std::string> Sqslite::CreateQueue(const std::string& name) {
  SLUICE_RETURN_IF_ERROR(Call({"Action=CreateQueue", "QueueName=" + name}).status());
  return StrCat(endpoint(), "/queues/", name);
}

Result<std::string> Sqslite::Send(const std::string& queue_url, const std::string& body) {
  SLUICE_ASSIGN_OR_RETURN(std::string answer, Call({"Action=SendMessage", "QueueUrl=" + queue_url,
                                                    "MessageBody=" + body}));
  std::optional<std::string> id = XmlValue(answer, "MessageId");
  if (!id) return absl::UnavailableError(StrCat("SendMessage answered without an id: ", answer));
  return *id;
}

Result<int> Sqslite::Messages(const std::string& queue_url) {
  SLUICE_ASSIGN_OR_RETURN(std::string answer,
                          Call({"Action=GetQueueAttributes", "QueueUrl=" + queue_url,
                                "AttributeName.1=ApproximateNumberOfMessages"}));
  std::optional<std::string> value =
      XmlValue(answer, "Value", "ApproximateNumberOfMessages</Name>");
  int count = 0;
  if (!value || !ParseInt(*value, count))
    return absl::UnavailableError(StrCat("GetQueueAttributes answered: ", answer));
  return count;
}

}  // namespace sluice::testing

namespace sluice::testing {
namespace {

// The newest installed PostgreSQL's programs: /usr/lib/postgresql/<major>/bin.
std::filesystem::path PostgresBin() {
  std::filesystem::path best;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/usr/lib/postgresql", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (std::filesystem::exists(it->path() / "bin" / "initdb") &&
        (best.empty() || it->path().filename().string() > best.parent_path().filename().string()))
      best = it->path() / "bin";
  }
  return best;
}

}  // namespace

Status PostgresServer::RunTool(const std::string& tool, std::vector<std::string> args) {
  std::vector<std::string> argv;
  if (geteuid() == 0) argv = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  argv.push_back((bin_ / tool).string());
  for (std::string& arg : args) argv.push_back(std::move(arg));
  ProcessResult result = RunProcess(argv, dir_.path());
  if (result.exit_code != 0) {
    std::string log;
    std::ifstream in(dir_.path() / "server.log");
    log.assign(std::istreambuf_iterator<char>(in), {});
    return absl::UnavailableError(
        StrCat(tool, " failed (exit ", result.exit_code, "): ", result.err, result.out, "\n", log));
  }
  return absl::OkStatus();
}

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_ = PostgresBin();
  if (server->bin_.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); run "
        "scripts/install-deps.sh (scripts/test.sh does)");
  }
  server->data_ = server->dir_.path() / "pgdata";
  if (geteuid() == 0) {
    passwd* user = getpwnam("postgres");
    if (user == nullptr) return absl::FailedPreconditionError("no `postgres` user to run as");
    if (chown(server->dir_.path().c_str(), user->pw_uid, user->pw_gid) != 0)
      return absl::InternalError("cannot hand the scratch directory to the postgres user");
  }
  SLUICE_RETURN_IF_ERROR(
      server->RunTool("initdb", {"-D", server->data_.string(), "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--locale=C", "--no-sync"}));
  server->port_ = FreePort();
  SLUICE_RETURN_IF_ERROR(server->StartAgain());
  return server;
}

Status PostgresServer::StartAgain() {
  std::string options = StrCat("-p ", port_, " -k ", dir_.path().string(),
                               " -c listen_addresses=127.0.0.1 -c fsync=off"
                               " -c synchronous_commit=off -c full_page_writes=off"
                               " -c max_connections=400 -c shared_buffers=128MB");
  SLUICE_RETURN_IF_ERROR(
      RunTool("pg_ctl", {"-D", data_.string(), "-l", (dir_.path() / "server.log").string(), "-o",
                         options, "-w", "-t", "30", "start"}));
  running_ = true;
  return absl::OkStatus();
}

Status PostgresServer::Stop() {
  if (!running_) return absl::OkStatus();
  running_ = false;
  return RunTool("pg_ctl", {"-D", data_.string(), "-m", "fast", "-w", "stop"});
}

PostgresServer::~PostgresServer() { Stop().IgnoreError(); }

std::string PostgresServer::uri(const std::string& database) const {
  return StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

Result<std::string> PostgresServer::CreateDatabase(const std::string& name) {
  return CreatePostgresDatabase(uri(), name);
}

Result<std::string> CreatePostgresDatabase(const std::string& admin_uri, const std::string& name) {
  PGconn* conn = PQconnectdb(admin_uri.c_str());
  auto close = absl::MakeCleanup([&] { PQfinish(conn); });
  if (PQstatus(conn) != CONNECTION_OK)
    return absl::UnavailableError(
        StrCat("cannot connect to ", admin_uri, ": ", PQerrorMessage(conn)));
  std::string sql = StrCat("CREATE DATABASE \"", name, "\"");
  PGresult* result = PQexec(conn, sql.c_str());
  bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
  std::string error = ok ? "" : PQresultErrorMessage(result);
  PQclear(result);
  if (!ok) return absl::InternalError(StrCat(sql, ": ", error));
  // Same server, same credentials: swap the database name at the end of the URI.
  std::string uri = admin_uri.substr(0, admin_uri.rfind('/') + 1) + name;
  return uri;
}

Result<std::string> FreshPostgresDatabase() {
  static std::atomic<int> counter{0};
  // The process id alone repeats across runs against one long-lived server (a developer's);
  // the start time keeps names apart.
  static const int64_t started = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count() %
                                 1'000'000'000;
  std::string name = StrCat("sluice_test_", getpid(), "_", started, "_", counter.fetch_add(1));
  const char* shared = std::getenv("SLUICE_TEST_POSTGRES");  // NOLINT(concurrency-mt-unsafe)
  if (shared && *shared) return CreatePostgresDatabase(shared, name);
  static std::unique_ptr<PostgresServer> own;
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (!own) {
    SLUICE_ASSIGN_OR_RETURN(own, PostgresServer::Start());
  }
  return own->CreateDatabase(name);
}

}  // namespace sluice::testing
