#include "client/states/states_command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/clock.h"
#include "core/cli/flags.h"
#include "core/net/socket.h"
#include "core/tcpstat/reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/prometheus_text.h"

namespace socklab::client {
namespace {

// `socklab states ARGS` as the real main runs it (CLI11 app, AddStatesCommand, ParseOrExit),
// in a forked child so exit codes, stdout and stderr are the program's own.
int ChildMain(const std::vector<std::string>& args) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app("socklab", "socklab");
  app.require_subcommand(1);
  cli::Command command = AddStatesCommand(app);
  std::vector<std::string> words = {"socklab", "states"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) {
    argv.push_back(word.data());
  }
  int code = cli::ParseOrExit(app, static_cast<int>(argv.size()), argv.data());
  if (code < 0) {
    code = command.run();
  }
  fflush(stdout);
  fflush(stderr);
  return code;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

RunResult RunStatesCli(const std::vector<std::string>& args) {
  RunResult result;
  int out_pipe[2];
  int err_pipe[2];
  EXPECT_EQ(pipe2(out_pipe, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(err_pipe, O_CLOEXEC), 0);
  pid_t child = fork();
  if (child == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    _exit(ChildMain(args));
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  // Bounded: 30 s of silence ends the wait (the child is then killed).
  while (open_fds > 0 && ::poll(fds, 2, 30'000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && fds[i].revents != 0) {
        char buffer[4096];
        ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          sinks[i]->append(buffer, static_cast<size_t>(n));
        }
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) {
      close(fd.fd);
    }
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(StatesCommandTest, BadFlagsExitTwoWithOneLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"--state", "bogus"},
      {"--port", "0"},
      {"--port", "70000"},
      {"--local", "not-an-address"},
      {"--remote", "1.2.3.4:99999"},
      {"--format", "xml"},
      {"-4", "-6"},
      {"--interval", "1ms"},
      {"--interval", "5"},
      {"--watch"},  // stdout is a pipe
      {"--watch", "--list"},
      {"--json", "--format", "csv"},
      {"--source", "sysfs"},
      {"--no-such-flag"},
      {"--count", "many"},
      {"--watch", "--count", "3"},
      {"--prometheus", "-i", "1s"},
      {"--prometheus", "--list"},
      {"--prometheus", "--json"},
  };
  for (const std::vector<std::string>& args : bad) {
    RunResult result = RunStatesCli(args);
    std::string joined = absl::StrJoin(args, " ");
    EXPECT_EQ(result.exit_code, 2) << joined << "\n" << result.err;
    EXPECT_TRUE(result.out.empty()) << joined;
    std::vector<absl::string_view> lines = absl::StrSplit(result.err, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << joined << "\n" << result.err;
    EXPECT_EQ(result.err.rfind("socklab", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(';'), std::string::npos) << joined << ": no fix in " << result.err;
  }
}

TEST(StatesCommandTest, OneShotTableAndList) {
  absl::StatusOr<UniqueFd> listener =
      ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0), .backlog = 50});
  ASSERT_TRUE(listener.ok());
  std::string port = std::to_string(LocalAddressOf(listener->get())->port());

  RunResult table = RunStatesCli({"--port", port});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("port " + port), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("LISTEN"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("accept queue 0 of 50 max"), std::string::npos) << table.out;

  RunResult list = RunStatesCli({"--port", port, "--list", "--source", "netlink"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("State"), std::string::npos);
  EXPECT_NE(list.out.find("127.0.0.1:" + port), std::string::npos) << list.out;

  RunResult none = RunStatesCli({"--port", port, "--state", "time-wait"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no matching sockets"), std::string::npos) << none.out;
}

// --prometheus: one scrape, read strictly (and by promtool when installed), whose counts are
// what this test made: kClients connections never accepted, so 2 * kClients ESTABLISHED ends on
// the port (the clients' and the queued server ends), all kClients in the accept queue; and what
// netlink, read by the test itself, says.
TEST(StatesCommandTest, PrometheusScrapeCountsWhatTheTestMade) {
  absl::StatusOr<UniqueFd> listener =
      ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0), .backlog = 50});
  ASSERT_TRUE(listener.ok());
  const SocketAddress address = *LocalAddressOf(listener->get());
  constexpr int kClients = 5;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) {
    absl::StatusOr<UniqueFd> client = ConnectTcp(address);
    ASSERT_TRUE(client.ok()) << client.status();
    clients.push_back(std::move(*client));
  }
  const std::string port = std::to_string(address.port());
  for (const char* source : {"proc", "netlink"}) {
    RunResult run = RunStatesCli({"--port", port, "--prometheus", "--source", source});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    absl::StatusOr<testing::PromScrape> scrape = testing::ParsePrometheusText(run.out);
    ASSERT_TRUE(scrape.ok()) << scrape.status() << "\n" << run.out;
    if (testing::PromtoolInstalled()) {
      EXPECT_EQ(testing::PromtoolComplaint(run.out), "") << run.out;
    }
    EXPECT_EQ(scrape->types.at("socklab_tcp_connection_states"), "gauge");
    EXPECT_EQ(scrape->Sum("socklab_tcp_connection_states", {{"state", "established"}}),
              2 * kClients)
        << run.out;
    EXPECT_EQ(scrape->Sum("socklab_tcp_connection_states", {{"state", "listen"}}), 1);
    EXPECT_EQ(scrape->Sum("socklab_tcp_sockets"), 2 * kClients + 1);
    EXPECT_EQ(scrape->Sum("socklab_tcp_listen_queue"), kClients);
    EXPECT_THAT(scrape->help.at("socklab_tcp_connection_states"), ::testing::HasSubstr(port));
  }
  tcpstat::Filter filter;
  filter.port = address.port();
  absl::StatusOr<tcpstat::TcpSnapshot> witness =
      tcpstat::ReadTcpSnapshot(filter, {.source = tcpstat::Source::kNetlink});
  ASSERT_TRUE(witness.ok()) << witness.status();
  EXPECT_EQ(witness->tally.Count(tcpstat::TcpState::kEstablished), 2 * kClients);
}

// Two SO_REUSEPORT listeners of one port, backlog 50 each: the table sums their queues and says
// over how many; --list shows each one's maximum.
TEST(StatesCommandTest, ReusePortListenersSummed) {
  absl::StatusOr<UniqueFd> first = ListenTcp(
      {.address = SocketAddress::Loopback(AF_INET, 0), .backlog = 50, .reuse_port = true});
  ASSERT_TRUE(first.ok()) << first.status();
  uint16_t port = LocalAddressOf(first->get())->port();
  absl::StatusOr<UniqueFd> second = ListenTcp(
      {.address = SocketAddress::Loopback(AF_INET, port), .backlog = 50, .reuse_port = true});
  ASSERT_TRUE(second.ok()) << second.status();

  RunResult table = RunStatesCli({"--port", std::to_string(port)});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("accept queues 0 of 100 max, summed over 2 listeners"),
            std::string::npos)
      << table.out;
  RunResult json = RunStatesCli({"--port", std::to_string(port), "--format", "json", "--list"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json sample = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(sample.is_discarded()) << json.out;
  EXPECT_EQ(sample["listeners"], 2);
  EXPECT_EQ(sample["listen_backlog"], 100);
  ASSERT_EQ(sample["sockets"].size(), 2u);
  EXPECT_EQ(sample["sockets"][0]["backlog"], 50);
  EXPECT_EQ(sample["sockets"][1]["backlog"], 50);
}

TEST(StatesCommandTest, JsonLinesParsePerSample) {
  absl::StatusOr<UniqueFd> listener = ListenTcp({.address = SocketAddress::Loopback(AF_INET, 0)});
  ASSERT_TRUE(listener.ok());
  uint16_t port = LocalAddressOf(listener->get())->port();
  for (const char* source : {"proc", "netlink"}) {
    RunResult result = RunStatesCli({"--port", std::to_string(port), "--format", "json", "-n", "3",
                                     "-i", "20ms", "--list", "--source", source, "-v"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), 3u) << result.out;
    for (const std::string& line : lines) {
      nlohmann::json sample = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(sample.is_discarded()) << line;
      EXPECT_TRUE(sample.contains("time"));
      EXPECT_EQ(sample["source"], source);
      EXPECT_EQ(sample["states"]["LISTEN"], 1);
      EXPECT_EQ(sample["total"], 1);
      ASSERT_EQ(sample["sockets"].size(), 1u);
      EXPECT_EQ(sample["sockets"][0]["local"], "127.0.0.1:" + std::to_string(port));
      EXPECT_EQ(sample["sockets"][0]["backlog"], 511);
    }
    // --verbose: one cost line per sample on stderr.
    std::vector<std::string> cost = absl::StrSplit(result.err, '\n', absl::SkipEmpty());
    EXPECT_EQ(cost.size(), 3u) << result.err;
    EXPECT_NE(result.err.find("sockets read"), std::string::npos);
  }
}

TEST(StatesCommandTest, CsvSeries) {
  RunResult result =
      RunStatesCli({"--format", "csv", "--count", "2", "-i", "10ms", "-s", "listen"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << result.out;
  EXPECT_EQ(lines[0].rfind("time,total,ESTABLISHED,", 0), 0u) << lines[0];
  size_t columns = std::count(lines[0].begin(), lines[0].end(), ',');
  EXPECT_EQ(std::count(lines[1].begin(), lines[1].end(), ','), static_cast<long>(columns));
}

// --watch on a pseudo-terminal: draws on the alternate screen, quits on 'q' with exit 0, and
// leaves the terminal as it found it.
TEST(StatesCommandTest, WatchQuitsOnQAndRestoresTerminal) {
  int master = -1;
  pid_t child = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(child, 0);
  if (child == 0) {
    _exit(ChildMain({"--watch", "-i", "50ms", "--state", "listen"}));
  }
  termios before{};
  std::string screen;
  bool drawn = false;
  for (int i = 0; i < 300 && !drawn; ++i) {  // bounded: 30 s
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buffer[4096];
      ssize_t n = read(master, buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      screen.append(buffer, static_cast<size_t>(n));
      drawn = screen.find("q or Ctrl-C quits") != std::string::npos;
    }
  }
  ASSERT_TRUE(drawn) << screen;
  EXPECT_NE(screen.find("\x1b[?1049h"), std::string::npos);
  EXPECT_NE(screen.find("LISTEN"), std::string::npos);
  // While the view runs the terminal is in raw mode.
  ASSERT_EQ(tcgetattr(master, &before), 0);
  EXPECT_EQ(before.c_lflag & ICANON, 0u);

  ASSERT_EQ(write(master, "q", 1), 1);
  int status = 0;
  pid_t done = 0;
  // Bounded: 30 s. The master reports POLLHUP as soon as the child's side closes, which is
  // before the child can be reaped, so an empty read sleeps a little instead of spinning.
  for (int64_t end = MonotonicNanos() + 30'000'000'000; done == 0 && MonotonicNanos() < end;) {
    char buffer[4096];
    pollfd p{master, POLLIN, 0};
    ssize_t n = ::poll(&p, 1, 100) > 0 ? read(master, buffer, sizeof(buffer)) : 0;
    if (n > 0) {
      screen.append(buffer, static_cast<size_t>(n));
    } else {
      ::poll(nullptr, 0, 10);
    }
    done = waitpid(child, &status, WNOHANG);
  }
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    FAIL() << "--watch did not quit on q";
  }
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(screen.find("\x1b[?1049l"), std::string::npos) << "alternate screen not left";
  termios after{};
  ASSERT_EQ(tcgetattr(master, &after), 0);
  EXPECT_NE(after.c_lflag & ICANON, 0u) << "terminal left in raw mode";
  EXPECT_NE(after.c_lflag & ECHO, 0u);
  close(master);
}

// Ctrl-C as a signal (kill -INT) ends a series cleanly with exit 0.
TEST(StatesCommandTest, SigintEndsSeriesCleanly) {
  int out_pipe[2];
  ASSERT_EQ(pipe2(out_pipe, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    _exit(ChildMain({"-i", "20ms", "--format", "csv", "-s", "listen"}));
  }
  close(out_pipe[1]);
  std::string out;
  for (int i = 0; i < 300 && std::count(out.begin(), out.end(), '\n') < 3; ++i) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buffer[4096];
      ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
      if (n <= 0) {
        break;
      }
      out.append(buffer, static_cast<size_t>(n));
    }
  }
  ASSERT_GE(std::count(out.begin(), out.end(), '\n'), 3) << out;
  kill(child, SIGINT);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 300 && done == 0; ++i) {
    ::poll(nullptr, 0, 100);
    done = waitpid(child, &status, WNOHANG);
  }
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  close(out_pipe[0]);
  ASSERT_NE(done, 0) << "SIGINT did not end the series";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace socklab::client
