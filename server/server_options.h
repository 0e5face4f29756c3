#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/loop/event_loop.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "core/sysinfo/proc_fs.h"
#include "server/fault.h"

namespace socklab::server {

// Everything socklab-server can be told, filled by server/main.cc from flags (the value flags
// through the table of server/server_flags.h, which also holds their ranges) or by tests
// directly, and checked once by Validate(). Plain value type; thread affinity: none.
struct ServerOptions {
  SocketAddress listen = *SocketAddress::Parse("127.0.0.1:7007");
  loop::BackendChoice backend = loop::BackendChoice::kAuto;
  int64_t threads = 0;     // 0: one per CPU this process may run on
  bool reuse_port = true;  // one SO_REUSEPORT listener per thread; false: one shared
  // 64-bit so that Validate() sees what the user typed (a count or byte size) before anything
  // is narrowed to the int the kernel takes.
  int64_t backlog = 0;  // 0: net.core.somaxconn
  bool reuse_addr = true;
  Linger linger;  // applied to accepted sockets
  // On by default: an echo is a request/response exchange, and Nagle's algorithm holding back
  // the tail of a reply until the peer's delayed ACK cost ~40 ms per round trip of 16 KiB+.
  bool nodelay = true;
  std::optional<Keepalive> keepalive;  // nullopt: the kernel's default (off)
  int64_t rcvbuf = 0;                  // 0: kernel default (autotuning stays on)
  int64_t sndbuf = 0;
  absl::Duration idle_timeout = absl::ZeroDuration();   // zero: off
  absl::Duration write_timeout = absl::ZeroDuration();  // zero: off
  uint64_t max_connections = 0;                         // 0: unlimited
  absl::Duration drain_timeout = absl::Seconds(5);
  absl::Duration stats_interval = absl::ZeroDuration();  // zero: no periodic lines
  bool json = false;
  // Echo bytes held per connection before the server stops reading from it (backpressure);
  // reading resumes below half of it.
  // At most kMaxPendingBytesLimit: without a cap memory can hold, backpressure is off.
  size_t max_pending_bytes = 256 * 1024;
  FaultPlan faults;  // --fault: failures inflicted on purpose (none by default)

  // A UsageError ("<problem>; <fix>") for values that cannot work. Does not touch the network.
  absl::Status Validate() const;
};

// "off" | "rst" | "<seconds>" (a whole number, or a duration such as "5s") -> Linger.
absl::StatusOr<Linger> ParseLinger(absl::string_view text);
std::string LingerToString(const Linger& linger);

// "IDLE,INTVL,CNT" (durations in whole seconds or plain seconds: "30s,5s,3", "60,10,5") or
// "off" (nullopt) -> keepalive settings, ranges checked.
absl::StatusOr<std::optional<Keepalive>> ParseKeepalive(absl::string_view text);
std::string KeepaliveToString(const std::optional<Keepalive>& keepalive);  // "30s,5s,3" or "off"

// The largest --max-pending: one connection may hold this much echo before its reads pause.
inline constexpr size_t kMaxPendingBytesLimit = size_t{1} << 30;
// Far above anything a machine can hold open; refusing it catches typos ("10M" for "10k").
inline constexpr uint64_t kMaxConnectionsLimit = 100'000'000;
inline constexpr int kMaxThreads = 1024;
// listen() takes an int; the kernel caps it at net.core.somaxconn anyway.
inline constexpr int64_t kMaxBacklog = 1'000'000'000;
// SO_RCVBUF/SO_SNDBUF take an int and the kernel doubles it.
inline constexpr int64_t kMaxSocketBuffer = 1 << 30;

// Validated options with their defaults resolved against this machine (threads = CPUs, backlog
// = net.core.somaxconn, read through core/sysinfo), plus one warning line per value the kernel
// caps: a backlog above somaxconn becomes somaxconn, which is what listen() gets from the kernel
// (the accept queue's maximum), so the configuration line shows the effective value. Made by
// ValidateAndResolve, once per server: EchoServer::Start takes it as it is. Thread affinity:
// none.
struct ResolvedOptions {
  ServerOptions options;
  std::vector<std::string> warnings;
};
// Validate(), then the resolution above; reads /proc through `proc`.
absl::StatusOr<ResolvedOptions> ValidateAndResolve(const ServerOptions& options,
                                                   const ProcFs& proc = ProcFs());

}  // namespace socklab::server
