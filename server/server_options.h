#pragma once

#include <cstdint>
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

namespace socklab::server {

// Everything socklab-server can be told, filled by server/main.cc from flags (or by tests
// directly) and checked once by Validate(). Plain value type; thread affinity: none.
struct ServerOptions {
  SocketAddress listen = *SocketAddress::Parse("127.0.0.1:7007");
  loop::BackendChoice backend = loop::BackendChoice::kAuto;
  int threads = 0;         // 0: one per CPU this process may run on
  bool reuse_port = true;  // one SO_REUSEPORT listener per thread; false: one shared
  // 64-bit so that Validate() sees what the user typed (a count or byte size) before anything
  // is narrowed to the int the kernel takes.
  int64_t backlog = 0;  // 0: net.core.somaxconn
  bool reuse_addr = true;
  Linger linger;  // applied to accepted sockets
  bool nodelay = false;
  int64_t rcvbuf = 0;  // 0: kernel default (autotuning stays on)
  int64_t sndbuf = 0;
  absl::Duration idle_timeout = absl::ZeroDuration();   // zero: off
  absl::Duration write_timeout = absl::ZeroDuration();  // zero: off
  uint64_t max_connections = 0;                         // 0: unlimited
  absl::Duration drain_timeout = absl::Seconds(5);
  absl::Duration stats_interval = absl::ZeroDuration();  // zero: no periodic lines
  bool json = false;
  // Echo bytes held per connection before the server stops reading from it (backpressure);
  // reading resumes below half of it.
  size_t max_pending_bytes = 256 * 1024;

  // A UsageError ("<problem>; <fix>") for values that cannot work. Does not touch the network.
  absl::Status Validate() const;
};

// "off" | "rst" | "<seconds>" (a whole number, or a duration such as "5s") -> Linger.
absl::StatusOr<Linger> ParseLinger(absl::string_view text);
std::string LingerToString(const Linger& linger);

// The options with defaults resolved against this machine (threads = CPUs, backlog =
// net.core.somaxconn, read through core/sysinfo), plus one warning line per value the kernel
// will cap (a backlog above somaxconn). Thread affinity: none.
struct ResolvedOptions {
  ServerOptions options;
  std::vector<std::string> warnings;
};
ResolvedOptions ResolveDefaults(const ServerOptions& options, const ProcFs& proc = ProcFs());

}  // namespace socklab::server
