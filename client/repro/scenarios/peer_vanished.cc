#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/clock.h"

namespace socklab::repro {
namespace {

constexpr uint16_t kServerPort = 5000;

void Run(Recorder& rec) {
  UniqueFd listener = OpenListener(rec, "server", 16, kServerPort);
  if (rec.stopped()) {
    return;
  }
  UniqueFd data_client = ConnectLoopback(rec, "client A", kServerPort);
  UniqueFd data_server = AcceptOne(rec, listener.get());
  UniqueFd idle_client = ConnectLoopback(rec, "client B", kServerPort);
  UniqueFd idle_server = AcceptOne(rec, listener.get());
  if (rec.stopped()) {
    return;
  }
  BoundBlockingCalls(data_client.get(), absl::Seconds(15));
  BoundBlockingCalls(idle_client.get(), absl::Seconds(15));
  rec.Step(
      "client A sends data and waits for the answer; TCP_USER_TIMEOUT bounds how long "
      "its data may stay unacknowledged");
  SetSockOptInt(rec, data_client.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, 1000,
                "TCP_USER_TIMEOUT (ms)");
  rec.Step(
      "client B is idle and relies on keepalive: first probe after 1 s idle, then every "
      "1 s, give up after 2 unanswered probes");
  SetSockOptInt(rec, idle_client.get(), SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  SetSockOptInt(rec, idle_client.get(), IPPROTO_TCP, TCP_KEEPIDLE, 1, "TCP_KEEPIDLE (s)");
  SetSockOptInt(rec, idle_client.get(), IPPROTO_TCP, TCP_KEEPINTVL, 1, "TCP_KEEPINTVL (s)");
  SetSockOptInt(rec, idle_client.get(), IPPROTO_TCP, TCP_KEEPCNT, 2, "TCP_KEEPCNT");
  rec.States("before the peer vanishes",
             {{"client A", data_client.get()}, {"client B", idle_client.get()}});

  rec.Step(
      "the server's host \"vanishes\": every packet to port 5000 is dropped from now on, "
      "without any RST or ICMP (a pulled cable, a crashed VM, a stateful firewall that "
      "forgot the flow)");
  if (!RunNamespaceTool(rec, {"nft", "add", "table", "inet", "socklab"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "chain", "inet", "socklab", "input",
                              "{ type filter hook input priority 0; policy accept; }"}) ||
      !RunNamespaceTool(rec, {"nft", "add", "rule", "inet", "socklab", "input", "tcp", "dport",
                              "5000", "drop"})) {
    return;
  }
  const int64_t vanished_at = MonotonicNanos();
  CallResult w = SendBytes(rec, "client A", data_client.get(), 100);
  rec.CheckOk("write (only queued: the kernel accepts it)", Phase::kWrite, w);
  CallResult r = RecvSome(rec, "client A", data_client.get());
  rec.CheckErrno("read with unacknowledged data (TCP_USER_TIMEOUT)", Phase::kRead, ETIMEDOUT, r,
                 vanished_at);
  rec.States("after client A gave up",
             {{"client A", data_client.get()}, {"client B", idle_client.get()}});
  CallResult k = RecvSome(rec, "client B", idle_client.get());
  rec.CheckErrno("read on the idle connection (keepalive)", Phase::kRead, ETIMEDOUT, k,
                 vanished_at);
  rec.States("after client B gave up", {{"client B", idle_client.get()}});
  rec.Note(
      "without TCP_USER_TIMEOUT, client A would retransmit for tcp_retries2 (15: about "
      "15 minutes); without keepalive, client B would wait forever");
}

}  // namespace

Scenario PeerVanishedScenario() {
  return {{.name = "peer-vanished",
           .title = "the peer disappears without RST or FIN",
           .expected = "ETIMEDOUT on read (user timeout, and keepalive)",
           .wire = "> SYN, < SYN/ACK, > ACK, > PSH/ACK, > PSH/ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketException: Connection timed out; "
                   "JDK 12 and older: java.net.SocketException: Connection timed out (Read "
                   "failed)",
           .cause = "Our segments (data, or keepalive probes on an idle connection) are never "
                    "acknowledged because the peer is gone and nothing tells us so. The kernel "
                    "retransmits with backoff until TCP_USER_TIMEOUT, tcp_retries2 or the "
                    "keepalive probes run out, then reports ETIMEDOUT on the established "
                    "connection. Reproduced with an nftables drop rule inside a private "
                    "namespace.",
           .fix_code = "Set TCP_USER_TIMEOUT (ms) on connections that send; enable SO_KEEPALIVE "
                       "with TCP_KEEPIDLE/INTVL/CNT on idle ones (Java 11+: "
                       "ExtendedSocketOptions.TCP_KEEPIDLE...); keep application read timeouts.",
           .kernel = {{"net.ipv4.tcp_retries2",
                       "retransmissions before ETIMEDOUT on data "
                       "(15 = ~924 s): sysctl -w net.ipv4.tcp_retries2=8"},
                      {"net.ipv4.tcp_keepalive_time",
                       "idle seconds before the first probe "
                       "(7200 by default): sysctl -w "
                       "net.ipv4.tcp_keepalive_time=60"}},
           .see_also = {"read-timeout", "connect-timeout"},
           .needs_netns = true,
           .timeout = absl::Seconds(40)},
          &Run};
}

}  // namespace socklab::repro
