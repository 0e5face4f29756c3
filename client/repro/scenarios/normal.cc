#include <netinet/tcp.h>
#include <sys/socket.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

constexpr size_t kRequestBytes = 5;
constexpr size_t kReplyBytes = 7;

std::string Received(const CallResult& r) {
  return r.failed() ? "an error" : absl::StrCat(r.ret, " bytes");
}

void Run(Recorder& rec) {
  rec.ExplainSegments();
  rec.Step(
      "the three-way handshake: connect() sends SYN, the listener's kernel answers SYN/ACK, "
      "the client's kernel ACKs; accept() only takes the finished connection");
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  const uint16_t client_port = LocalPort(p.client.get());
  const std::string client_local = LocalText(p.client.get());
  const std::string client_remote = PeerText(p.client.get());
  std::vector<Watched> both = {{"client", p.client.get()}, {"server", p.server.get()}};
  rec.States("connected", both);

  rec.Step("data both ways: a request from the client, a reply from the server");
  CallResult sent = SendBytes(rec, "client", p.client.get(), kRequestBytes);
  rec.CheckOk("the client's send", Phase::kWrite, sent);
  CallResult request = RecvSome(rec, "server", p.server.get());
  rec.CheckText("the server's recv", Phase::kRead, absl::StrCat(kRequestBytes, " bytes"),
                Received(request), request.seconds());
  CallResult replied = SendBytes(rec, "server", p.server.get(), kReplyBytes);
  rec.CheckOk("the server's send", Phase::kWrite, replied);
  CallResult reply = RecvSome(rec, "client", p.client.get());
  rec.CheckText("the client's recv", Phase::kRead, absl::StrCat(kReplyBytes, " bytes"),
                Received(reply), reply.seconds());

  rec.Step(
      "the graceful close: the client closes first (the active closer), the server reads "
      "the end of the stream and closes too (the passive closer)");
  CloseFd(rec, "client", p.client);
  WaitForTcpState(p.server.get(), TCP_CLOSE_WAIT, absl::Seconds(2));
  rec.States("the client closed; the server's kernel acknowledged its FIN",
             {{"server", p.server.get()}}, {client_port});
  CallResult eof = RecvSome(rec, "server", p.server.get());
  rec.CheckEof("the server's read after the client's FIN", eof);
  CloseFd(rec, "server", p.server);

  const StateSnapshot& snap = rec.States("after both closed", {}, {client_port});
  std::optional<tcpstat::TcpState> seen;
  for (const SocketState& s : snap.sockets) {
    if (s.local == client_local && s.remote == client_remote) {
      seen = StateOfRow(s);
    }
  }
  rec.CheckState("the client's connection after the close", tcpstat::TcpState::kTimeWait, seen,
                 rec.SecondsSinceStart());
  rec.Note(
      "every state on both sides is in the kernel's events above (sock:inet_sock_set_state): "
      "the client CLOSE -> SYN_SENT -> ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2, the server's "
      "connection LISTEN -> SYN_RECV -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSE. "
      "SYN_RECV is brief: Linux keeps a handshake in progress as a small request socket and "
      "creates the connection's socket in SYN_RECV when the last ACK arrives. TIME_WAIT has no "
      "event: when the server's FIN arrives the client's socket goes FIN_WAIT2 -> CLOSE and a "
      "small TIME_WAIT socket takes its place (the last snapshot shows it)");
}

}  // namespace

Scenario NormalScenario() {
  return {
      {.name = "normal",
       .title = "a connection's whole life: handshake, data both ways, graceful close",
       .expected = "no error; the client ends in TIME_WAIT",
       .wire = "> SYN, < SYN/ACK, > ACK, > PSH/ACK, < PSH/ACK, > FIN/ACK, < FIN/ACK, > ACK",
       .java = "JDK 13+ (NioSocketImpl): no exception; InputStream.read() returns -1 on the "
               "server when the client has closed",
       .cause = "Nothing fails: this is the baseline every other scenario departs from. "
                "Three segments open a connection (SYN, SYN/ACK, ACK), each data segment is "
                "acknowledged by a cumulative ACK, and each side's FIN is acknowledged "
                "separately (four segments, or three when the passive closer's FIN carries "
                "the ACK of the first one).",
       .fix_code = "Compare a failing trace (`socklab trace --port P`) with this one: the first "
                   "segment that differs is where to look.",
       .kernel = {},
       .see_also = {},
       .events = {"CLOSE -> SYN_SENT", "SYN_RECV", "SYN_SENT -> ESTABLISHED",
                  "SYN_RECV -> ESTABLISHED", "ESTABLISHED -> FIN_WAIT1",
                  "ESTABLISHED -> CLOSE_WAIT", "FIN_WAIT1 -> FIN_WAIT2", "CLOSE_WAIT -> LAST_ACK",
                  "FIN_WAIT2 -> CLOSE", "LAST_ACK -> CLOSE"}},
      &Run};
}

}  // namespace socklab::repro
