#include "client/load/load_command.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/version.h"
#include "core/loop/event_loop.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"
#include "tests/client/load/server_process.h"
#include "tests/client/load/socklab_process.h"
#include "tests/testing/prometheus_text.h"

namespace socklab::client {
namespace {

// A row of the --states table: "    1.0s  320393  0  50  2" (t, msg/s, errors, a count per
// state), the time marked with '*' for a warmup second.
bool IsStatesTableRow(const std::string& line) {
  std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (fields.size() < 4 || line.empty() || line[0] != ' ') {
    return false;
  }
  std::string t = fields[0];
  if (!t.empty() && t.back() == '*') {
    t.pop_back();
  }
  const size_t dot = t.find('.');
  if (t.size() < 4 || t.back() != 's' || dot == std::string::npos || dot + 3 != t.size() ||
      !absl::c_all_of(t.substr(0, dot), absl::ascii_isdigit) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(t[dot + 1]))) {
    return false;
  }
  return std::all_of(fields.begin() + 1, fields.end(), [](const std::string& f) {
    return !f.empty() && absl::c_all_of(f, absl::ascii_isdigit);
  });
}

// Runs `socklab load ARGS...` in-process, as client/main.cc does, and returns the exit code.
int RunLoadCommand(std::vector<std::string> args) {
  CLI::App app("socklab", "socklab");
  app.require_subcommand(1);
  cli::Command command = AddLoadCommand(app);
  args.insert(args.begin(), {"socklab", "load"});
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  if (int code = cli::ParseOrExit(app, static_cast<int>(argv.size()), argv.data()); code >= 0) {
    return code;
  }
  return command.run();
}

std::string TempPath(const char* name) {
  return absl::StrCat(::testing::TempDir(), "/socklab_load_", getpid(), "_", name);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs $SOCKLAB_BIN_DIR/socklab ARGS... in a child whose RLIMIT_NOFILE is `nofile`; returns the
// exit code (-1 when the binary is missing, -2 when it did not exit normally) and its stdout.
int RunSocklabWithFdLimit(rlim_t nofile, std::vector<std::string> args, std::string* out) {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  if (dir == nullptr) {
    return -1;
  }
  const std::string binary = std::string(dir) + "/socklab";
  if (access(binary.c_str(), X_OK) != 0) {
    return -1;
  }
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return -2;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    const rlimit limit = {nofile, nofile};
    dup2(pipe_fds[1], STDOUT_FILENO);
    alarm(120);  // never outlive the test
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) {
      out->append(buffer, n);
    }
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
}

// Bad input: exit 2 with one line on stderr that names the problem (the flag or value) and says
// what to do instead.
TEST(LoadCommandTest, BadUsageExitsTwoWithOneLineNamingTheProblem) {
  struct Case {
    std::vector<std::string> args;
    std::string names;  // a part of the line that names the problem
  };
  const std::vector<Case> cases = {
      {{}, "target is required"},
      {{"127.0.0.1"}, "'127.0.0.1' has no port"},
      {{"127.0.0.1:7", "-c", "0"}, "--connections 0"},
      {{"127.0.0.1:7", "-c", "lots"}, "lots"},
      {{"127.0.0.1:7", "-d", "5"}, "5"},
      {{"127.0.0.1:7", "--close", "slam"}, "--close slam"},
      {{"127.0.0.1:7", "--backend", "kqueue"}, "kqueue"},
      {{"127.0.0.1:7", "-s", "10-5"}, "10-5"},
      {{"127.0.0.1:7", "-6"}, "not an IPv6 address"},
      {{"127.0.0.1:7", "--source-ips", "127.0.0.5-127.0.0.1"}, "127.0.0.5-127.0.0.1"},
      {{"127.0.0.1:7", "-d", "1s", "--warmup", "2s"}, "--warmup"},
      {{"127.0.0.1:7", "--bogus"}, "--bogus"},
      // ":PORT" is not the wildcard address.
      {{":7007"}, "':7007' has no host"},
      // Zeros that would mean nothing.
      {{"127.0.0.1:7", "-R", "0"}, "--rate 0 is no rate"},
      {{"127.0.0.1:7", "--churn", "0"}, "--churn 0 would never reconnect"},
      {{"127.0.0.1:7", "--connect-rate", "0"}, "--connect-rate 0 would open no connection"},
      {{"127.0.0.1:7", "-n", "0"}, "--messages 0 sends nothing"},
      {{"127.0.0.1:7", "-t", "0"}, "--threads 0 is no thread count"},
      // --min-rate-ratio: a share of an open loop's schedule.
      {{"127.0.0.1:7", "-R", "100", "--min-rate-ratio", "1.5"}, "--min-rate-ratio 1.5"},
      {{"127.0.0.1:7", "-R", "100", "--min-rate-ratio", "0"}, "--min-rate-ratio 0"},
      {{"127.0.0.1:7", "--min-rate-ratio", "0.9"}, "--min-rate-ratio without -R"},
      {{"127.0.0.1:7", "-R", "100", "--min-rate-ratio", "most"}, "most"},
      {{"127.0.0.1:7", "--metrics", "nowhere"}, "--metrics 'nowhere'"},
      // A repeated flag, in our words rather than CLI11's.
      {{"127.0.0.1:7", "-c", "1", "-c", "2"}, "--connections given 2 times; give it once"},
  };
  for (const Case& c : cases) {
    ::testing::internal::CaptureStderr();
    const int code = RunLoadCommand(c.args);
    const std::string err = ::testing::internal::GetCapturedStderr();
    const std::string args = absl::StrJoin(c.args, " ");
    EXPECT_EQ(code, 2) << args;
    EXPECT_NE(err.find(c.names), std::string::npos) << args << ": " << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << args << ": " << err;
    EXPECT_EQ(err.find("At Most"), std::string::npos) << args << ": " << err;
  }
}

TEST(LoadCommandTest, UnreachableTargetExitsOne) {
  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Bind(fd->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  const std::string target = LocalAddressOf(fd->get())->ToString();
  EXPECT_EQ(RunLoadCommand({target, "-d", "20s", "--backend", "epoll"}), 1);
}

TEST(LoadCommandTest, JsonAndHgrmHaveEveryDocumentedField) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("out.json");
  const std::string hgrm_path = TempPath("out.hgrm");
  ASSERT_EQ(RunLoadCommand({server.address().ToString(), "-c", "3", "-t", "1", "-R", "300", "-d",
                            "1500ms", "--warmup", "200ms", "--backend", "epoll", "--states",
                            "--json", json_path, "--hgrm", hgrm_path}),
            0);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  for (const char* key :
       {"config", "machine", "elapsed_s", "messages", "bytes", "throughput", "connections",
        "latency_ns", "latency_uncorrected_ns", "connect_latency_ns", "open_loop", "client_cpu",
        "errors", "kernel", "series", "latency_spectrum", "aborted", "abort_reason"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"version",
                          "command_line",
                          "started_at",
                          "target",
                          "backend",
                          "backend_requested",
                          "backend_fallback_reason",
                          "connections",
                          "threads",
                          "pipeline",
                          "rate",
                          "mode",
                          "churn",
                          "connect_rate",
                          "close",
                          "nodelay",
                          "size_min",
                          "size_max",
                          "duration_s",
                          "messages",
                          "warmup_s",
                          "connect_timeout_s",
                          "read_timeout_s",
                          "bind",
                          "source_ips",
                          "max_errors"}) {
    EXPECT_TRUE(j["config"].contains(key)) << key;
  }
  for (const char* key :
       {"count", "min", "mean", "stdev", "p50", "p90", "p99", "p99_9", "p99_99", "max"}) {
    EXPECT_TRUE(j["latency_ns"].contains(key)) << key;
  }
  EXPECT_EQ(j["config"]["backend"], "epoll");
  EXPECT_EQ(j["config"]["mode"], "open");
  EXPECT_EQ(j["messages"]["data_errors"], 0);
  EXPECT_EQ(j["messages"]["sent"].get<uint64_t>(),
            j["messages"]["completed"].get<uint64_t>() +
                j["messages"]["in_flight_at_end"].get<uint64_t>());
  EXPECT_EQ(j["bytes"]["sent"], j["bytes"]["received"]);
  EXPECT_EQ(j["errors"]["total"], 0);
  ASSERT_FALSE(j["series"].empty());
  for (const char* key :
       {"t_s", "interval_s", "warmup", "messages", "bytes_sent", "bytes_received", "errors",
        "connects", "open_connections", "p50_ns", "p99_ns", "p99_9_ns", "max_ns", "connect_p50_ns",
        "connect_p99_ns", "connect_max_ns", "errors_by_class", "states"}) {
    EXPECT_TRUE(j["series"][0].contains(key)) << key;
  }
  // The first second is mid-run (1.5 s in all): both ends of the 3 connections are established.
  EXPECT_GE(j["series"][0]["states"]["ESTABLISHED"].get<int>(), 3) << j["series"][0];
  EXPECT_EQ(j["series"][0]["states"]["LISTEN"], 1) << j["series"][0];
  const std::string hgrm = ReadAll(hgrm_path);
  EXPECT_EQ(hgrm.rfind("       Value     Percentile TotalCount 1/(1-Percentile)", 0), 0u);
  EXPECT_NE(hgrm.find("#[Mean"), std::string::npos);
  std::remove(json_path.c_str());
  std::remove(hgrm_path.c_str());
}

// --csv: one row per second of the JSON series, whose byte columns add up to what the echo peer
// itself received (no warmup: every byte sent is in the window).
TEST(LoadCommandTest, CsvSeriesRowsAddUpToThePeersCount) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("series.json");
  const std::string csv_path = TempPath("series.csv");
  ASSERT_EQ(RunLoadCommand({server.address().ToString(), "-c", "2", "-t", "1", "-n", "2000", "-s",
                            "100", "--backend", "epoll", "--json", json_path, "--csv", csv_path}),
            0);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  std::vector<std::string> rows = absl::StrSplit(ReadAll(csv_path), '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), j["series"].size() + 1);
  const std::vector<std::string> header = absl::StrSplit(rows[0], ',');
  const auto column = [&](const std::string& name) {
    return std::find(header.begin(), header.end(), name) - header.begin();
  };
  uint64_t bytes_sent = 0;
  uint64_t messages = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const std::vector<std::string> cells = absl::StrSplit(rows[i], ',');
    ASSERT_EQ(cells.size(), header.size()) << rows[i];
    bytes_sent += std::stoull(cells[column("bytes_sent")]);
    messages += std::stoull(cells[column("messages")]);
  }
  EXPECT_EQ(messages, 2000u);
  EXPECT_EQ(server.bytes_in(), 2000u * 100);
  EXPECT_EQ(bytes_sent, server.bytes_in());
  std::remove(json_path.c_str());
  std::remove(csv_path.c_str());
}

// --min-rate-ratio against a server that holds every echo 100 ms (socklab-server --fault
// delay=100ms): one connection with one message in flight sends at most 10 a second, so a
// schedule of 200/s cannot be kept, by construction; exit 3, said in text and JSON. A schedule
// of 4/s on the same server is kept.
TEST(LoadCommandTest, MinRateRatioMissedExitsThree) {
  testing::ServerProcess server({"--fault", "delay=100ms"});
  if (server.address().port() == 0) {
    GTEST_SKIP() << "socklab-server not available (SOCKLAB_BIN_DIR)";
  }
  const std::string json_path = TempPath("min_rate.json");
  ::testing::internal::CaptureStderr();
  const int missed = RunLoadCommand({server.address().ToString(), "-c", "1", "-t", "1", "-R", "200",
                                     "-d", "1500ms", "--min-rate-ratio", "0.5", "--backend",
                                     "epoll", "--json", json_path});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(missed, 3) << err;
  EXPECT_NE(err.find("below --min-rate-ratio 0.5"), std::string::npos) << err;
  nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  EXPECT_EQ(j["open_loop"]["min_rate_ratio"], 0.5);
  EXPECT_EQ(j["open_loop"]["min_rate_ratio_met"], false);
  EXPECT_LT(j["open_loop"]["achieved_ratio"].get<double>(), 0.5);

  ::testing::internal::CaptureStderr();
  const int kept =
      RunLoadCommand({server.address().ToString(), "-c", "1", "-t", "1", "-R", "4", "-d", "1500ms",
                      "--min-rate-ratio", "0.5", "--backend", "epoll", "--json", json_path});
  const std::string kept_err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(kept, 0) << kept_err;
  j = nlohmann::json::parse(ReadAll(json_path));
  EXPECT_EQ(j["open_loop"]["min_rate_ratio_met"], true);
  std::remove(json_path.c_str());
}

// --metrics: scraped while the load runs (on each backend), read strictly, and compared with the
// echo peer's own counts: the connections it accepted and holds open exactly, the bytes it
// received (read after the scrape) at least what the scrape says was sent.
class LoadMetricsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "io_uring" && !loop::SelectBackend(loop::BackendChoice::kIoUring).ok()) {
      GTEST_SKIP() << "io_uring unavailable";
    }
  }
};

TEST_P(LoadMetricsTest, ScrapeDuringTheRunAgreesWithThePeer) {
  testing::EchoFixture server;
  // A free port for the endpoint: the suite runs in a network namespace of its own as root, so
  // nothing else takes it between this close and the load's bind.
  uint16_t metrics_port = 0;
  {
    absl::StatusOr<UniqueFd> probe = ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0)});
    ASSERT_TRUE(probe.ok());
    metrics_port = LocalAddressOf(probe->get())->port();
  }
  const SocketAddress endpoint = SocketAddress::Loopback(AF_INET, metrics_port);
  int code = -1;
  std::thread load([&] {
    code = RunLoadCommand({server.address().ToString(), "-c", "2", "-t", "1", "-R", "200", "-d",
                           "5s", "--backend", GetParam(), "--metrics", endpoint.ToString()});
  });
  std::optional<::socklab::testing::PromScrape> scrape;
  for (int i = 0; i < 200; ++i) {  // at most ~20 s
    absl::StatusOr<std::string> response = ::socklab::testing::HttpGet(endpoint, "/metrics");
    if (response.ok()) {
      const std::string body = ::socklab::testing::HttpBody(*response);
      absl::StatusOr<::socklab::testing::PromScrape> parsed =
          ::socklab::testing::ParsePrometheusText(body);
      ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << body;
      if (::socklab::testing::PromtoolInstalled()) {
        EXPECT_EQ(::socklab::testing::PromtoolComplaint(body), "") << body;
      }
      if (parsed->Sum("socklab_load_messages_completed_total") > 0 &&
          parsed->Sum("socklab_load_connections_open") == 2) {
        scrape = *parsed;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const uint64_t peer_bytes_in = server.bytes_in();
  const uint64_t peer_bytes_out = server.bytes_out();
  ASSERT_TRUE(scrape.has_value());
  EXPECT_EQ(scrape->Sum("socklab_load_connections_opened_total"), server.accepted());
  EXPECT_EQ(scrape->Sum("socklab_load_connections_open"), server.open());
  const double sent = scrape->Sum("socklab_load_sent_bytes_total");
  EXPECT_GT(sent, 0);
  EXPECT_LE(sent, peer_bytes_in);
  EXPECT_LE(scrape->Sum("socklab_load_received_bytes_total"), peer_bytes_out);
  EXPECT_EQ(scrape->Sum("socklab_load_requested_rate"), 200);
  EXPECT_EQ(scrape->types.at("socklab_load_round_trip_seconds"), "histogram");
  // The histogram counts the round trips the counter counts (the same seconds, no warmup).
  EXPECT_EQ(scrape->Sum("socklab_load_round_trip_seconds_count"),
            scrape->Sum("socklab_load_messages_completed_total"));
  EXPECT_EQ(scrape->Sum("socklab_load_connect_seconds_count"), 2);
  EXPECT_EQ(scrape->Count("socklab_load_info", {{"backend", GetParam()}}), 1);
  load.join();
  EXPECT_EQ(code, 0);
}

// A --metrics address another socket holds: one line naming it and EADDRINUSE, exit 2, before
// any load is sent (the target is never contacted: nothing listens on it).
TEST(LoadMetricsFlagTest, BusyAddressExitsTwoBeforeTheRun) {
  absl::StatusOr<UniqueFd> holder = ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0)});
  ASSERT_TRUE(holder.ok());
  const std::string taken = LocalAddressOf(holder->get())->ToString();
  ::testing::internal::CaptureStderr();
  const int code = RunLoadCommand({"127.0.0.1:7", "-d", "20s", "--metrics", taken});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find(taken), std::string::npos) << err;
  EXPECT_NE(err.find("EADDRINUSE"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadMetricsTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

// localhost means both loopbacks: with the server on ::1 only, the run finds it there (after
// 127.0.0.1 refused) and says so; the peer saw the one probe and the run's connection.
TEST(LoadCommandTest, LocalhostTriesBothLoopbacks) {
  absl::StatusOr<UniqueFd> probe = CreateTcpSocket(AF_INET6, Blocking::kBlocking);
  if (!probe.ok() || !Bind(probe->get(), SocketAddress::Loopback(AF_INET6, 0)).ok()) {
    GTEST_SKIP() << "no IPv6 loopback";
  }
  testing::EchoFixture server(testing::EchoFixture::Mode::kEcho, 0, AF_INET6);
  const std::string port = absl::StrCat(server.port());
  ::testing::internal::CaptureStdout();
  const int code =
      RunLoadCommand({"localhost:" + port, "-c", "1", "-n", "10", "--backend", "epoll"});
  const std::string text = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find(absl::StrCat("target      [::1]:", port, " (localhost:", port,
                                   " tried: 127.0.0.1:", port, " ECONNREFUSED)")),
            std::string::npos)
      << text;
  ASSERT_TRUE(server.WaitForAllClosed(5000));
  EXPECT_EQ(server.accepted(), 2u);
  EXPECT_EQ(server.bytes_in(), 640u);
}

// A --json, --hgrm or --html path that cannot be written is refused before the run (exit 2, one
// line with the errno and its fix): the peer never sees a connection.
TEST(LoadCommandTest, UnwritableReportPathsAreRefusedBeforeTheRun) {
  for (const char* flag : {"--json", "--hgrm", "--html"}) {
    testing::EchoFixture server;
    ::testing::internal::CaptureStderr();
    const int code = RunLoadCommand({server.address().ToString(), "-c", "1", "-n", "10",
                                     "--backend", "epoll", flag, "/nonexistent-socklab-dir/out"});
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, 2) << err;
    EXPECT_EQ(absl::StrCat("socklab load: ", flag,
                           " /nonexistent-socklab-dir/out: No such file or directory (ENOENT). "
                           "check the directory exists\n"),
              err);
    EXPECT_EQ(server.accepted(), 0u) << "the run started";
  }
}

// A write that fails after the run (a full device) names its own errno and fix, and exits 1.
TEST(LoadCommandTest, ReportWriteFailureNamesItsErrno) {
  testing::EchoFixture server;
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int code = RunLoadCommand({server.address().ToString(), "-c", "1", "-n", "10", "--backend",
                                   "epoll", "--json", "/dev/full"});
  (void)::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("write /dev/full: "), std::string::npos) << err;
  EXPECT_NE(err.find("(ENOSPC)"), std::string::npos) << err;
  EXPECT_EQ(err.find("directory"), std::string::npos) << err;
  EXPECT_EQ(server.bytes_in(), 640u);
}

// Echoes that differ from what was sent fail the run (exit 1) with a hint that the target may
// not echo; the JSON counts them as the text does, and as the peer corrupted them.
TEST(LoadCommandTest, DataErrorsExitOneAndTheJsonCountsThem) {
  testing::EchoFixture server(testing::EchoFixture::Config{
      .mode = testing::EchoFixture::Mode::kCorrupt, .corrupt_every = 5 * 64});
  const std::string json_path = TempPath("corrupt.json");
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int code = RunLoadCommand({server.address().ToString(), "-c", "1", "-n", "100", "--backend",
                                   "epoll", "--json", json_path});
  const std::string text = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("20 echoes differed from what was sent; check that " +
                     server.address().ToString() + " is an echo server"),
            std::string::npos)
      << err;
  EXPECT_NE(text.find("may not be an echo server"), std::string::npos) << text;
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  EXPECT_EQ(server.corrupted(), 20u);
  EXPECT_EQ(j["errors"]["total"].get<uint64_t>(), server.corrupted()) << j["errors"];
  EXPECT_EQ(j["messages"]["data_errors"].get<uint64_t>(), server.corrupted());
  EXPECT_EQ(j["messages"]["completed"], 80);
  std::remove(json_path.c_str());
}

// A run in which nothing completed is a failure (exit 1), not a quiet report of zeros.
TEST(LoadCommandTest, NothingCompletedExitsOne) {
  testing::EchoFixture server(testing::EchoFixture::Mode::kNeverRead);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int code =
      RunLoadCommand({server.address().ToString(), "-c", "1", "-d", "500ms", "--backend", "epoll"});
  const std::string text = ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1) << text << err;
  EXPECT_NE(err.find("no message completed"), std::string::npos) << err;
  EXPECT_NE(text.find("in flight at end: 1"), std::string::npos) << text;
  EXPECT_EQ(server.bytes_out(), 0u);
}

// The report opens with socklab's version, the command line as typed and the start time, so a
// saved report says what produced it.
TEST(LoadCommandTest, ReportHeaderNamesVersionCommandLineAndStart) {
  testing::EchoFixture server;
  const std::string target = server.address().ToString();
  testing::SocklabProcess load({"load", target, "-c", "1", "-n", "10", "--backend", "epoll"});
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  const testing::ProcessOutcome outcome = load.Wait(30'000);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_EQ(outcome.out.rfind(
                absl::StrCat("socklab     ", std::string(Version()), " load, started 20"), 0),
            0u)
      << outcome.out;
  EXPECT_NE(
      outcome.out.find(absl::StrCat("\ncommand     ", std::getenv("SOCKLAB_BIN_DIR"),
                                    "/socklab load ", target, " -c 1 -n 10 --backend epoll\n")),
      std::string::npos)
      << outcome.out;
  EXPECT_NE(outcome.out.find("\nclient cpu  "), std::string::npos) << outcome.out;
}

// SIGINT and SIGTERM end the run with its report, and the exit code a shell expects of a program
// the signal stopped: 128 + the signal.
TEST(LoadCommandTest, SignalsExitWith128PlusTheSignal) {
  for (const int signal_number : {SIGINT, SIGTERM}) {
    testing::EchoFixture server;
    testing::SocklabProcess load(
        {"load", server.address().ToString(), "-c", "2", "-d", "60s", "--json", "-"});
    if (!load.available()) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    // Signalled once the load is under way (the peer has echoed something).
    for (int i = 0; i < 2000 && server.bytes_out() == 0; ++i) {
      usleep(5000);
    }
    ASSERT_GT(server.bytes_out(), 0u);
    load.Signal(signal_number);
    const testing::ProcessOutcome outcome = load.Wait(30'000);
    ASSERT_FALSE(outcome.killed_at_deadline);
    EXPECT_EQ(outcome.exit_code, 128 + signal_number) << outcome.err;
    const nlohmann::json j = nlohmann::json::parse(outcome.out);
    EXPECT_EQ(j["abort_reason"], "interrupted");
    EXPECT_GT(j["messages"]["completed"].get<uint64_t>(), 0u);
  }
}

// --states puts the per-second series in the text report too, and the TIME_WAIT build-up of
// --churn 1 (the client closes first) shows in the last second.
TEST(LoadCommandTest, StatesSeriesInTextAndJsonShowsTimeWaitUnderChurn) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("churn.json");
  ::testing::internal::CaptureStdout();
  const int code = RunLoadCommand({server.address().ToString(), "-c", "2", "-t", "1", "--churn",
                                   "1", "--connect-rate", "200", "-d", "1500ms", "--backend",
                                   "epoll", "--states", "--json", json_path});
  const std::string text = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(code, 0) << text;
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_FALSE(j["series"].empty());
  const nlohmann::json& last = j["series"].back();
  EXPECT_GT(last["states"]["TIME_WAIT"].get<int>(), 0) << last;
  EXPECT_GT(j["connections"]["opened"].get<int>(), 10);
  EXPECT_NE(text.find("states      the target port's sockets"), std::string::npos) << text;
  EXPECT_NE(text.find("TIME_WAIT"), std::string::npos) << text;
  EXPECT_NE(text.find("  at the end: "), std::string::npos) << text;
  EXPECT_EQ(text.find("no sockets"), std::string::npos) << text;
  // One table row ("    1.0s  ..." or "    1.0s* ...") per second of the series.
  size_t rows = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    rows += IsStatesTableRow(line) ? 1 : 0;
  }
  EXPECT_EQ(rows, j["series"].size()) << text;
  std::remove(json_path.c_str());
}

// Out of fds with connects still in flight (every connection starts before any connect
// completes): `socket EMFILE` is counted and retried, the connections that opened carry the
// load, and the run exits 0 rather than "could not reach the target".
TEST(LoadCommandTest, RunningOutOfFdsIsCountedNotUnreachable) {
  for (const char* backend : {"epoll", "io_uring"}) {
    if (!loop::SelectBackend(*loop::ParseBackendChoice(backend)).ok()) {
      continue;
    }
    testing::EchoFixture server;
    std::string out;
    const int code = RunSocklabWithFdLimit(64,
                                           {"load", server.address().ToString(), "-c", "100", "-t",
                                            "1", "-d", "2s", "--backend", backend, "--json", "-"},
                                           &out);
    if (code == -1) {
      GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
    }
    ASSERT_EQ(code, 0) << backend << ": " << out;
    const nlohmann::json j = nlohmann::json::parse(out);
    uint64_t emfile = 0;
    for (const nlohmann::json& cell : j["errors"]["by_class"]) {
      if (cell["phase"] == "socket" && cell["errno"] == "EMFILE") {
        emfile += cell["count"].get<uint64_t>();
      }
    }
    EXPECT_GT(emfile, 0u) << backend << ": " << j["errors"];
    EXPECT_EQ(j["errors"]["total"].get<uint64_t>(), emfile) << backend << ": " << j["errors"];
    EXPECT_FALSE(j["aborted"]) << j["abort_reason"];
    EXPECT_GT(j["messages"]["completed"].get<uint64_t>(), 0u) << backend;
    EXPECT_EQ(j["messages"]["data_errors"], 0) << backend;
    const int opened = j["connections"]["opened"].get<int>();
    EXPECT_GT(opened, 10) << backend;
    EXPECT_LT(opened, 64) << backend;
    EXPECT_EQ(j["connections"]["peak_open"].get<int>(), opened) << backend;
    // Said before the run, in the configuration.
    ASSERT_EQ(j["config"]["limit_notes"].size(), 1u) << j["config"];
    EXPECT_NE(j["config"]["limit_notes"][0].get<std::string>().find(
                  "-c 100 needs about 136 fds but RLIMIT_NOFILE is 64 (hard 64)"),
              std::string::npos)
        << j["config"]["limit_notes"];
  }
}

// A soft fd limit below what -c needs is raised towards the hard one before the run: every
// connection opens (the peer holds all of them at once), no EMFILE, no note.
TEST(LoadCommandTest, SoftFdLimitIsRaisedForTheConnections) {
  testing::EchoFixture server;
  testing::SocklabProcess load({"load", server.address().ToString(), "-c", "100", "-t", "1", "-d",
                                "1s", "--backend", "epoll", "--json", "-"},
                               /*nofile=*/64, /*nofile_hard=*/4096);
  if (!load.available()) {
    GTEST_SKIP() << "socklab not built (SOCKLAB_BIN_DIR)";
  }
  const testing::ProcessOutcome outcome = load.Wait(30'000);
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  const nlohmann::json j = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(j["errors"]["total"], 0) << j["errors"];
  EXPECT_TRUE(j["config"]["limit_notes"].empty()) << j["config"]["limit_notes"];
  EXPECT_EQ(j["connections"]["peak_open"], 100);
  EXPECT_EQ(server.max_open(), 100u);
}

}  // namespace
}  // namespace socklab::client
