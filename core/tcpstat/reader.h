#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/tcpstat/filter.h"
#include "core/tcpstat/tally.h"
#include "core/tcpstat/tcp_socket.h"

namespace socklab::tcpstat {

// Where the sockets come from. Both see the calling thread's network namespace (a thread that
// unshare(CLONE_NEWNET)s sees its own, not the process's).
enum class Source {
  // /proc/thread-self/net/tcp{,6} (/proc/net/tcp{,6} before Linux 3.17, whose /proc/net is the
  // thread-group leader's namespace): text the kernel generates on every read (the default,
  // works everywhere /proc is mounted).
  kProc,
  // NETLINK_SOCK_DIAG / inet_diag (what `ss` uses): binary records, the state filter applied
  // in the kernel.
  kNetlink,
};

absl::string_view SourceName(Source source);  // "proc", "netlink"
std::optional<Source> ParseSourceName(absl::string_view text);

struct ReadOptions {
  Source source = Source::kProc;
  // kProc only: the root the /proc files are read below ("/" on a real machine, a fixture tree
  // in tests, where proc/net/tcp{,6} serve when proc/thread-self/net does not exist), as ProcFs
  // takes it.
  std::string proc_root = "/";
  // kProc only: when a LISTEN socket matched, ask netlink for the listeners' maximum accept
  // queue (absent from /proc, see TcpSocket::accept_backlog). Failure leaves it unset.
  bool listen_backlog = true;
  // False: only the tally is wanted, TcpSnapshot::sockets stays empty. Copying 10,000 records
  // of ~300 bytes into fresh memory costs more than parsing them, so tallies skip it.
  bool keep_sockets = true;
};

// One read of the socket tables and what it cost.
struct TcpSnapshot {
  std::vector<TcpSocket> sockets;  // the sockets that matched (if keep_sockets), kernel order
  StateTally tally;                // counts of the sockets that matched (always)
  size_t sockets_read = 0;         // all sockets the source reported, before filtering
  size_t skipped_lines = 0;        // kProc: malformed lines skipped (see ParseProcNetTcp)
  size_t bytes_read = 0;           // text or netlink bytes received
  int64_t read_nanos = 0;          // getting the data from the kernel
  int64_t parse_nanos = 0;         // turning it into records and filtering
  int64_t total_nanos() const { return read_nanos + parse_nanos; }
};

// Reads every TCP socket (IPv4 and IPv6) that matches `filter`. Errors: ErrnoError naming the
// file or the netlink call. Thread affinity: none (each call opens and closes what it uses).
absl::StatusOr<TcpSnapshot> ReadTcpSnapshot(const Filter& filter, const ReadOptions& options = {});

// The same, just the sockets: ReadTcpSockets({.port = 7007}).
absl::StatusOr<std::vector<TcpSocket>> ReadTcpSockets(const Filter& filter = {},
                                                      Source source = Source::kProc);

// Counts per state of the matching sockets: SampleStates({.port = 7007}).
absl::StatusOr<StateTally> SampleStates(const Filter& filter = {}, Source source = Source::kProc);

}  // namespace socklab::tcpstat
