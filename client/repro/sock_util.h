#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/repro/recorder.h"
#include "client/repro/scenario.h"
#include "core/base/unique_fd.h"
#include "core/tcpstat/tcp_state.h"

namespace socklab::repro {

// Small loopback building blocks for scenario bodies. Every syscall goes through the recorder,
// so it appears in the steps with its real result. All are blocking, plain syscalls (no event
// loop, no io_uring), so `strace -f` shows exactly what the report shows. On a setup failure
// they call rec.Fail and return an invalid fd. Thread affinity: the scenario's thread.

// socket + bind 127.0.0.1:port (0: any) + listen(backlog). `reuse_addr` sets SO_REUSEADDR.
UniqueFd OpenListener(Recorder& rec, const std::string& who, int backlog, uint16_t port = 0,
                      bool reuse_addr = true);
// socket + connect to 127.0.0.1:port; must succeed.
UniqueFd ConnectLoopback(Recorder& rec, const std::string& who, uint16_t port);
// accept(listener); must succeed.
UniqueFd AcceptOne(Recorder& rec, int listener_fd);
// A connected pair over a fresh listener, which the Pair keeps open.
struct Pair {
  UniqueFd listener;
  UniqueFd client;
  UniqueFd server;
};
Pair ConnectedPair(Recorder& rec, int backlog = 16);

// "socket(AF_INET, SOCK_STREAM)" as recorded text, for scenario-specific calls.
CallResult NewTcpSocket(Recorder& rec, const std::string& who, bool nonblocking = false);
// NewTcpSocket that owns the result; a failure is the scenario's setup error (rec.Fail naming
// the errno), never a check, so no later call runs on fd -1 and reports a misleading EBADF.
// Returns an invalid fd then: the body should return when rec.stopped().
UniqueFd OpenTcpSocket(Recorder& rec, const std::string& who, bool nonblocking = false);
// Both give the port to the scenario's packet capture (Recorder::WatchPort): the bound port, or
// the destination port before the SYN leaves.
CallResult BindLoopback(Recorder& rec, int fd, uint16_t port, const std::string& who = "");
CallResult ConnectTo(Recorder& rec, int fd, uint32_t ipv4_host_order, uint16_t port,
                     const std::string& who = "");
CallResult SetSockOptInt(Recorder& rec, int fd, int level, int name, int value,
                         const std::string& name_text);

// recv(fd, 4096 bytes) / send(fd, n bytes, MSG_NOSIGNAL), recorded with `who`.
CallResult RecvSome(Recorder& rec, const std::string& who, int fd, int flags = 0);
CallResult SendBytes(Recorder& rec, const std::string& who, int fd, size_t bytes,
                     int flags = MSG_NOSIGNAL);
// close(fd) recorded; releases the UniqueFd. The connection stays the scenario's: its TIME_WAIT
// or orphan shows in later snapshots (Recorder::RememberConnection).
CallResult CloseFd(Recorder& rec, const std::string& who, UniqueFd& fd);

// Runs `nft`/`ip` (inside the scenario's private namespace) and records the command. A missing
// program makes the scenario skipped, another failure makes it an error; returns false then.
bool RunNamespaceTool(Recorder& rec, const std::vector<std::string>& args);
// Makes packets on lo wait their turn (inside the scenario's private namespace only). On loopback
// a packet is delivered inside the call that sends it, so two packets can never cross in flight
// by chance; a token-bucket qdisc on lo (2 kbit/s: about 260 ms per TCP segment) whose bucket is
// emptied first (empty UDP datagrams to 127.0.0.1:6003 until one is held) queues every following
// packet, and the queue releases them in the order they were sent. Records the commands; returns
// false (the scenario skipped or failed) when it could not.
bool HoldLoopbackPackets(Recorder& rec);

// Writes a per-namespace sysctl (only inside the private namespace) and records it.
bool SetNamespaceSysctl(Recorder& rec, const std::string& name, const std::string& value);

uint16_t LocalPort(int fd);
std::string LocalText(int fd);
std::string PeerText(int fd);

// The TCP state of a socket we hold, from getsockopt(TCP_INFO).tcpi_state; -1 on error.
int TcpStateOf(int fd);
// The same as a TcpState; nullopt on error.
std::optional<tcpstat::TcpState> KnownTcpStateOf(int fd);
// The state of a row of a states snapshot; nullopt for "-" (no state known).
std::optional<tcpstat::TcpState> StateOfRow(const SocketState& row);
// The socket's inode (fstat), as /proc/net/tcp lists it; 0 on error.
uint64_t SocketInode(int fd);
// "unread 5 B, unacked 4096 B" from SIOCINQ/SIOCOUTQ, "" when both are empty or fd listens.
std::string QueuesOf(int fd);
// The queue text for a socket in TCP state `state` (the kernel's number) with `unread` bytes
// received and not read (not counting a received FIN) and `unacked` = write_seq - snd_una, as
// SIOCOUTQ and /proc/net/tcp give it: that counts an unacknowledged SYN (left out: the state
// says it) or FIN (shown as "FIN unacked") as one. "" without a connection (CLOSE, LISTEN).
std::string DescribeQueues(int state, int64_t unread, int64_t unacked);
// "ESTABLISHED", "TIME_WAIT", ... as `ss` spells them (with '_').
std::string TcpStateName(int state);
// The TCP states one socket passed through, as "SYN_SENT -> SYN_RECV -> ESTABLISHED".
struct StatePath {
  std::string text;
  std::string last;
  // Appends `state` (the kernel's number) when it differs from the last one; true when it did.
  bool Add(int state);
};
// Polls TCP_INFO every millisecond until the state is `state` or `timeout` passed.
bool WaitForTcpState(int fd, int state, absl::Duration timeout);

// Polls `fd` for `events`; true when any of them is ready before `timeout`.
bool WaitReadable(int fd, absl::Duration timeout, short events = 0);

// SO_RCVTIMEO / SO_SNDTIMEO so a blocking call can never hang a scenario.
void BoundBlockingCalls(int fd, absl::Duration timeout);

}  // namespace socklab::repro
