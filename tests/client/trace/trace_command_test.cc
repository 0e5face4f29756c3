// socklab trace as a program, against real traffic on a port of the test's own namespace: its
// summary is compared with witnesses it did not compute (the echo server's own accepted and
// closed counts, the errnos the test's own sockets got, TCP_INFO, and tshark reading the pcap).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/unique_fd.h"
#include "core/net/netns.h"
#include "core/process/run_tool.h"
#include "core/sysinfo/tcp_counters.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/trace/trace_process.h"

namespace socklab {
namespace {

using testing::BackgroundProgram;

std::string Prefix(const std::string& name) {
  return absl::StrCat("/tmp/socklab-trace-test-", getpid(), "-", name);
}

bool CanCapture() { return geteuid() == 0; }

bool HaveTshark() { return RunTool({"tshark", "--version"}).ok(); }

// The last JSON line of `out` whose "type" is `type`.
nlohmann::json LastOfType(const std::string& out, const std::string& type) {
  nlohmann::json found;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("type", "") == type) {
      found = j;
    }
  }
  return found;
}

// How many frames of `pcap` match the display filter, as tshark counts them.
int TsharkCount(const std::string& pcap, const std::string& filter) {
  absl::StatusOr<std::string> out =
      RunTool({"tshark", "-r", pcap, "-Y", filter, "-T", "fields", "-e", "frame.number"});
  if (!out.ok()) {
    return -1;
  }
  // RunTool mixes stderr in ("Running as user root ..."): count the frame numbers only.
  int n = 0;
  for (absl::string_view line : absl::StrSplit(*out, '\n', absl::SkipEmpty())) {
    int number = 0;
    n += absl::SimpleAtoi(line, &number) ? 1 : 0;
  }
  return n;
}

// A trace started in the background on `port`, ready once its configuration lines are out.
struct Trace {
  Trace(uint16_t port, const std::string& pcap, const std::string& name)
      : program("socklab", {"trace", "--port", absl::StrCat(port), "--json", "--pcap", pcap},
                Prefix(name)) {}
  bool Ready() { return program.WaitForOutput("\"type\":\"config\"", 20'000); }
  // Stops it as Ctrl-C does; the summary, or null.
  nlohmann::json Stop(int* exit_code) {
    program.Signal(SIGINT);
    *exit_code = program.WaitExit(30'000);
    return LastOfType(program.out(), "summary");
  }
  BackgroundProgram program;
};

// The kernel's counter `name` (Tcp.OutRsts): per namespace, so as root (the suite runs in a
// namespace of its own) only this suite's traffic moves it.
int64_t Counter(const std::string& name) {
  absl::StatusOr<TcpCounters> counters = ReadTcpCounters();
  return counters.ok() && counters->count(name) ? counters->at(name) : -1;
}

struct OneLine {
  int exit_code;
  std::string err;
};

OneLine RunBadInput(std::vector<std::string> args) {
  BackgroundProgram p("socklab", std::move(args), Prefix("bad"));
  OneLine r{p.WaitExit(20'000), ""};
  r.err = p.err();
  return r;
}

TEST(TraceCommandTest, BadInputIsOneLineAndExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"trace"},
      {"trace", "--port", "0"},
      {"trace", "--port", "70000"},
      {"trace", "--port", "80", "-d", "0"},
      {"trace", "--port", "80", "-d", "soon"},
      {"trace", "--port", "80", "--pcap", "/no/such/dir/x.pcap"},
      {"trace", "--port", "80", "--netns", "socklab-no-such-namespace"},
  };
  for (const std::vector<std::string>& args : cases) {
    OneLine r = RunBadInput(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args.back() << ": " << r.err;
    EXPECT_EQ(r.err.rfind("socklab", 0), 0u) << r.err;
  }
}

// Without root or CAP_NET_RAW nothing can be recorded: one line that says why and what to do,
// exit 1.
TEST(TraceCommandTest, WithoutPrivilegesItSaysWhyInOneLine) {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  if (geteuid() != 0 || dir == nullptr || !RunTool({"setpriv", "--help"}).ok()) {
    GTEST_SKIP() << "needs root and setpriv to run as an unprivileged user";
  }
  absl::StatusOr<std::string> out =
      RunTool({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               absl::StrCat(dir, "/socklab"), "trace", "--port", "7007", "-d", "1s"});
  ASSERT_FALSE(out.ok());
  const std::string message(out.status().message());
  EXPECT_NE(message.find(": exit 1: socklab trace: nothing to trace with: "), std::string::npos)
      << message;
  EXPECT_NE(message.find("CAP_NET_RAW"), std::string::npos) << message;
  EXPECT_NE(message.find("run as root"), std::string::npos) << message;
}

// A connected socklab-server under two socklab loads (graceful and abortive closes): every
// connection the server accepted and closed is opened and closed in the trace, the aborted ones
// by RST, and tshark finds as many SYN/ACKs and RSTs in the pcap as the trace counted.
TEST(TraceCommandTest, CountsUnderLoadMatchTheServerAndTshark) {
  if (!CanCapture()) {
    GTEST_SKIP() << "needs root (packet capture and tracefs)";
  }
  BackgroundProgram server("socklab-server", {"-l", "127.0.0.1:0", "-t", "1", "--json"},
                           Prefix("server"));
  ASSERT_TRUE(server.started());
  ASSERT_TRUE(server.WaitForOutput("\"event\":\"listening\"", 20'000)) << server.err();
  const std::string listen =
      nlohmann::json::parse(server.out().substr(0, server.out().find('\n')))["listen"];
  uint32_t port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(listen.substr(listen.rfind(':') + 1), &port)) << listen;
  const std::string pcap = Prefix("load.pcap");
  Trace trace(static_cast<uint16_t>(port), pcap, "load");
  ASSERT_TRUE(trace.Ready()) << trace.program.err();
  const int64_t passive_opens = Counter("Tcp.PassiveOpens");
  const int64_t out_rsts = Counter("Tcp.OutRsts");

  for (const char* close : {"fin", "rst"}) {
    BackgroundProgram load("socklab",
                           {"load", listen, "-c", "4", "--churn", "1", "-n", "60", "-d", "20s",
                            "--close", close, "-t", "1"},
                           Prefix(absl::StrCat("load-", close)));
    EXPECT_EQ(load.WaitExit(60'000), 0) << load.out() << load.err();
  }
  server.Signal(SIGTERM);
  ASSERT_EQ(server.WaitExit(30'000), 0) << server.err();
  const int64_t opened_here = Counter("Tcp.PassiveOpens") - passive_opens;
  const int64_t resets_here = Counter("Tcp.OutRsts") - out_rsts;
  const nlohmann::json served = LastOfType(
      [&] {
        // The server's JSON lines use "event", not "type".
        std::string out;
        for (absl::string_view line : absl::StrSplit(server.out(), '\n', absl::SkipEmpty())) {
          nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
          if (j.is_object() && j.value("event", "") == "summary") {
            j["type"] = "summary";
            out = j.dump();
          }
        }
        return out;
      }(),
      "summary");
  ASSERT_TRUE(served.is_object()) << server.out();
  int exit_code = -1;
  const nlohmann::json summary = trace.Stop(&exit_code);
  EXPECT_EQ(exit_code, 0) << trace.program.err();
  ASSERT_TRUE(summary.is_object()) << trace.program.out().substr(0, 2000);
  ASSERT_EQ(summary.value("frames_dropped", 1), 0) << "the capture lost frames: counts are low";
  ASSERT_EQ(summary.value("events_overrun", 1), 0) << "the trace lost events: counts are low";

  const uint64_t accepted = served["accepted"];
  EXPECT_GE(accepted, 120u);
  EXPECT_EQ(summary["opened"], accepted) << summary.dump();
  EXPECT_EQ(summary["closed"], served["closed"]) << summary.dump();
  EXPECT_EQ(summary["closed_opened_before"], 0) << summary.dump();
  EXPECT_EQ(summary["connect_failed"], 0) << summary.dump();
  // The second load's every connection ends in the client's RST.
  EXPECT_GE(summary["closed_by_reset"].get<uint64_t>(), 60u) << summary.dump();
  EXPECT_LT(summary["closed_by_reset"].get<uint64_t>(), accepted) << summary.dump();
  EXPECT_EQ(summary["syn_acks"], accepted) << summary.dump();
  // The namespace's own counters (only this suite's traffic, as root).
  EXPECT_EQ(summary["opened"], opened_here) << summary.dump();
  uint64_t resets_sent = 0;
  for (const auto& [reason, n] : summary["resets_sent"].items()) {
    resets_sent += n.get<uint64_t>();
  }
  EXPECT_EQ(static_cast<int64_t>(resets_sent), resets_here) << summary.dump();
  if (!HaveTshark()) {
    GTEST_SKIP() << "tshark is not installed (scripts/install-deps installs it)";
  }
  EXPECT_EQ(TsharkCount(pcap, "tcp.flags.syn==1 && tcp.flags.ack==1"), summary["syn_acks"]);
  EXPECT_EQ(TsharkCount(pcap, "tcp.flags.reset==1"), summary["rst_segments"]);
  EXPECT_EQ(TsharkCount(pcap, "tcp"), summary["segments"]);
  unlink(pcap.c_str());
}

// The failures the repro scenarios show, on one traced port: a refused connect (nothing
// listens), a reset by a close with unread data (reset-unread), a SYN nobody answers (the
// accept queue is full: connect-timeout). The trace's counts and reasons against what the
// test's own sockets saw (their errnos), the namespace's own counters and tshark's RSTs.
TEST(TraceCommandTest, RefusedResetAndUnansweredSynAreNamed) {
  if (!CanCapture()) {
    GTEST_SKIP() << "needs root (packet capture and tracefs)";
  }
  UniqueFd holder(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  socklen_t len = sizeof(sin);
  ASSERT_EQ(getsockname(holder.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const uint16_t port = ntohs(sin.sin_port);
  const std::string pcap = Prefix("failures.pcap");
  Trace trace(port, pcap, "failures");
  ASSERT_TRUE(trace.Ready()) << trace.program.err();
  const int64_t out_rsts = Counter("Tcp.OutRsts");
  const int64_t syn_retrans = Counter("TcpExt.TCPSynRetrans");

  auto connect_to = [&](UniqueFd& fd) {
    fd = UniqueFd(socket(AF_INET, SOCK_STREAM, 0));
    return connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0 ? 0 : errno;
  };
  // 1. Nothing listens on the bound port: refused, twice.
  int refused = 0;
  for (int i = 0; i < 2; ++i) {
    UniqueFd c;
    refused += connect_to(c) == ECONNREFUSED ? 1 : 0;
  }
  EXPECT_EQ(refused, 2);
  // 2. A listener that closes with unread data.
  ASSERT_EQ(listen(holder.get(), 0), 0);
  {
    UniqueFd c;
    ASSERT_EQ(connect_to(c), 0);
    UniqueFd s(accept(holder.get(), nullptr, nullptr));
    ASSERT_EQ(send(c.get(), "unread", 6, MSG_NOSIGNAL), 6);
    char byte;
    ASSERT_EQ(recv(s.get(), &byte, 1, MSG_PEEK), 1);  // the data has arrived
  }
  // 3. The accept queue (backlog 0 holds one) is full: the next SYN is dropped; TCP_SYNCNT 1
  // gives up after one retransmission.
  UniqueFd queued;
  ASSERT_EQ(connect_to(queued), 0);
  UniqueFd dropped(socket(AF_INET, SOCK_STREAM, 0));
  const int one = 1;
  ASSERT_EQ(setsockopt(dropped.get(), IPPROTO_TCP, TCP_SYNCNT, &one, sizeof(one)), 0);
  const int timed_out =
      connect(dropped.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) == 0 ? 0 : errno;
  EXPECT_EQ(timed_out, ETIMEDOUT);
  const int64_t out_rsts_sent = Counter("Tcp.OutRsts") - out_rsts;
  const int64_t syns_retransmitted = Counter("TcpExt.TCPSynRetrans") - syn_retrans;

  int exit_code = -1;
  const nlohmann::json summary = trace.Stop(&exit_code);
  EXPECT_EQ(exit_code, 0) << trace.program.err();
  ASSERT_TRUE(summary.is_object()) << trace.program.out();
  EXPECT_EQ(summary["connect_refused"], refused) << summary.dump();
  EXPECT_EQ(summary["connect_failed"], refused + 1) << summary.dump();
  EXPECT_EQ(summary["resets_sent"].value("NO_SOCKET", 0), refused) << summary.dump();
  EXPECT_EQ(summary["resets_sent"].value("TCP_ABORT_ON_CLOSE", 0), 1) << summary.dump();
  EXPECT_EQ(summary["rst_not_from_this_tcp"], 0) << summary.dump();
  EXPECT_EQ(summary["resets_sent"].value("NO_SOCKET", 0) +
                summary["resets_sent"].value("TCP_ABORT_ON_CLOSE", 0),
            out_rsts_sent)
      << summary.dump();
  EXPECT_EQ(summary["syn_retransmissions"], syns_retransmitted) << summary.dump();
  EXPECT_GE(syns_retransmitted, 1);
  // Each ending has its meaning on the timeline.
  const std::string out = trace.program.out();
  EXPECT_NE(out.find("nothing listens on the port"), std::string::npos);
  EXPECT_NE(out.find("closed the socket with data it had not read"), std::string::npos);
  EXPECT_NE(out.find("SYN sent again"), std::string::npos);
  if (HaveTshark()) {
    EXPECT_EQ(TsharkCount(pcap, "tcp.flags.reset==1"), summary["rst_segments"]);
    EXPECT_EQ(TsharkCount(pcap, "tcp.flags.reset==1"), refused + 1);
  }
  unlink(pcap.c_str());
}

}  // namespace
}  // namespace socklab
