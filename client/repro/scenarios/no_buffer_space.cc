#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/base/errno_name.h"
#include "core/net/netns.h"

namespace socklab::repro {
namespace {

void Run(Recorder& rec) {
  rec.Step("part 1, TCP: a nonblocking send into a tiny send buffer whose peer never reads");
  Pair p = ConnectedPair(rec);
  if (rec.stopped()) {
    return;
  }
  SetSockOptInt(rec, p.client.get(), SOL_SOCKET, SO_SNDBUF, 4096, "SO_SNDBUF");
  CallResult last;
  size_t total = 0;
  for (int i = 0; i < 4096; ++i) {
    std::string chunk(65536, 'x');
    last = rec.Call("client: send(65536 bytes, MSG_DONTWAIT|MSG_NOSIGNAL)", [&] {
      return send(p.client.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    });
    if (last.failed()) {
      break;
    }
    total += static_cast<size_t>(last.ret);
  }
  rec.Step(absl::StrCat("the buffers took ", total, " bytes before the send failed"));
  rec.CheckErrno("TCP send with full buffers (Linux says EAGAIN, not ENOBUFS)", Phase::kWrite,
                 EAGAIN, last);
  rec.States("the send buffer is full: the bytes wait in the kernel, nobody reads them",
             {{"client", p.client.get()}, {"server", p.server.get()}});

  rec.Step(
      "part 2, UDP: where ENOBUFS does come from. lo gets MTU 1500 (private namespace), so "
      "a 60000-byte datagram is built from ~40 IP fragments; with SO_SNDBUF at its minimum, "
      "the fragments after the first exceed twice the send buffer");
  if (absl::Status mtu = SetLoopbackMtu(1500); !mtu.ok()) {
    return rec.Fail(std::string(mtu.message()));
  }
  rec.Step("# ip link set lo mtu 1500   (SIOCSIFMTU, private namespace only)");
  CallResult u = rec.Call("udp: socket(AF_INET, SOCK_DGRAM)",
                          [] { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  if (u.failed()) {
    return rec.Fail(absl::StrCat("socket(AF_INET, SOCK_DGRAM) failed: ", ErrnoName(u.err)));
  }
  UniqueFd udp(static_cast<int>(u.ret));
  SetSockOptInt(rec, udp.get(), SOL_SOCKET, SO_SNDBUF, 1, "SO_SNDBUF (the kernel rounds up)");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string datagram(60000, 'x');
  CallResult sent = rec.Call("udp: sendto(127.0.0.1:9, 60000 bytes)", [&] {
    return sendto(udp.get(), datagram.data(), datagram.size(), 0,
                  reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  });
  rec.CheckErrno("UDP sendto of a fragmented datagram over a tiny SO_SNDBUF", Phase::kWrite,
                 ENOBUFS, sent);
  rec.Note(
      "UDP sockets have no TCP state: the tcp states above are part 1's connection; the "
      "datagram's failure shows in Udp.SndbufErrors and Ip.OutDiscards");
  rec.Note(
      "other real sources of ENOBUFS on Linux: a TCP (or UDP) send with MSG_ZEROCOPY on a "
      "SO_ZEROCOPY socket when the completion notification does not fit in "
      "net.core.optmem_max (so TCP send() can return it), a netlink socket whose "
      "receive buffer overflowed (lost notifications), a full qdisc or device queue for "
      "UDP/raw sends, and neighbour-table or route-cache limits");
}

}  // namespace

Scenario NoBufferSpaceScenario() {
  return {{.name = "no-buffer-space",
           .title = "what ENOBUFS is, and why ordinary TCP sends on Linux do not return it",
           .expected = "EAGAIN on TCP send; ENOBUFS on a UDP sendto",
           .wire = "> SYN, < SYN/ACK, > ACK, > PSH/ACK",
           .java = "JDK 15+ (DatagramSocket over NIO, JEP 373): "
                   "java.net.SocketException: No buffer space available; JDK 14 and older: "
                   "java.io.IOException: No buffer space available; on Linux from UDP, "
                   "multicast or netlink; the \"maximum connections reached?\" variant is "
                   "Windows' WSAENOBUFS = ephemeral port exhaustion",
           .cause = "An ordinary Linux TCP send() or recv() does not return ENOBUFS: a full "
                    "send buffer blocks or gives EAGAIN, and memory pressure (net.ipv4.tcp_mem) "
                    "makes it wait or drop packets. An exception is a MSG_ZEROCOPY send, "
                    "which fails with ENOBUFS when its notification exceeds "
                    "net.core.optmem_max. Otherwise ENOBUFS comes from datagram and netlink "
                    "paths: here a UDP datagram whose IP fragments do not fit in twice its "
                    "SO_SNDBUF. A Java stack trace saying \"No buffer space available\" on Linux "
                    "therefore points at UDP/multicast or socket options, not at a TCP "
                    "connection.",
           .fix_code = "For UDP: a larger SO_SNDBUF, datagrams that fit the path MTU (no "
                       "fragmentation), retry with backoff. For netlink: a larger SO_RCVBUF and "
                       "resync on ENOBUFS. On Windows clients: the port-exhaustion fixes.",
           .kernel = {{"net.core.wmem_default",
                       "the default SO_SNDBUF for UDP: "
                       "sysctl -w net.core.wmem_default=1048576"},
                      {"net.core.wmem_max",
                       "the cap on SO_SNDBUF: "
                       "sysctl -w net.core.wmem_max=4194304"},
                      {"net.core.optmem_max",
                       "per-socket option memory, which MSG_ZEROCOPY notifications use: "
                       "sysctl -w net.core.optmem_max=131072"}},
           .needs_netns = true,
           // LimitHint's ENOBUFS line is about tcp_mem; this ENOBUFS is UDP's, explained above.
           .limit_hints = false},
          &Run};
}

}  // namespace socklab::repro
