#include "core/tcpstat/reader.h"

#include <errno.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/sysinfo/proc_fs.h"
#include "core/tcpstat/netlink_reader.h"
#include "core/tcpstat/proc_parser.h"
#include "core/tcpstat/proc_text.h"

namespace socklab::tcpstat {
namespace {

// The families to read for a filter: both unless -4 or -6 narrowed it.
std::vector<int> FamiliesFor(const Filter& filter) {
  if (filter.family == AF_INET || filter.family == AF_INET6) {
    return {filter.family};
  }
  return {AF_INET, AF_INET6};
}

// Collects what a read keeps: every match (or only the tally), and the matching listeners
// apart, which the tally's accept-queue sums and the /proc backlog lookup need.
class Collector {
 public:
  Collector(const Filter& filter, bool keep_sockets, TcpSnapshot* snapshot)
      : filter_(filter), keep_(keep_sockets), snapshot_(snapshot) {}
  void operator()(const TcpSocket& socket) {
    if (!filter_.Matches(socket)) {
      return;
    }
    ++snapshot_->tally.counts[static_cast<int>(socket.state)];
    ++snapshot_->tally.total;
    if (keep_) {
      snapshot_->sockets.push_back(socket);
    } else if (socket.is_listen()) {
      listeners_.push_back(socket);
    }
  }
  std::vector<TcpSocket>& listeners() { return keep_ ? snapshot_->sockets : listeners_; }

 private:
  const Filter& filter_;
  bool keep_;
  TcpSnapshot* snapshot_;
  std::vector<TcpSocket> listeners_;
};

// /proc has no maximum accept queue for listeners; netlink does. Fills it in by inode.
void AddListenBacklogs(const Filter& filter, std::vector<TcpSocket>& sockets) {
  absl::flat_hash_map<uint64_t, uint32_t> backlog_by_inode;
  // A LISTEN-only dump is cheap: inet_diag_dump_icsk walks the listening hash and skips the
  // established one when no other state is asked for (Linux 6.18, 10,000 sockets open: 0.02 ms
  // against 9 ms for a full dump; BM_Netlink_ListenOnly in bench/states_e2e_benchmark.cc).
  // Still, only the families that have a listener here: one round trip less.
  bool want[2] = {false, false};
  for (const TcpSocket& socket : sockets) {
    if (socket.is_listen()) {
      want[socket.family == AF_INET6 ? 1 : 0] = true;
    }
  }
  for (int family : FamiliesFor(filter)) {
    if (!want[family == AF_INET6 ? 1 : 0]) {
      continue;
    }
    absl::StatusOr<NetlinkDumpStats> dumped = DumpTcpSocketsNetlink(
        {.family = family, .states = TcpStateSet::Of({TcpState::kListen}), .port = filter.port},
        [&](const TcpSocket& socket) {
          if (socket.accept_backlog.has_value()) {
            backlog_by_inode[socket.inode] = *socket.accept_backlog;
          }
        });
    if (!dumped.ok()) {
      return;  // optional information: the /proc sample stands without it
    }
  }
  for (TcpSocket& socket : sockets) {
    if (socket.is_listen()) {
      if (auto it = backlog_by_inode.find(socket.inode); it != backlog_by_inode.end()) {
        socket.accept_backlog = it->second;
      }
    }
  }
}

// The table of `family` below `root` ("/" or a fixture tree, with its trailing '/').
// /proc/net is a link to /proc/self/net: the network namespace of the thread-group leader, not
// necessarily the caller's (a thread may have unshare()d or setns()ed its own). /proc/thread-self
// (Linux 3.17) is the calling thread, as the netlink socket is; older kernels and fixture trees
// have only proc/net.
absl::StatusOr<absl::string_view> ReadTcpTable(absl::string_view root, int family) {
  absl::string_view file = family == AF_INET ? "tcp" : "tcp6";
  absl::StatusOr<absl::string_view> text =
      ReadProcText(absl::StrCat(root, "proc/thread-self/net/", file));
  if (!text.ok() && ErrnoOf(text.status()) == ENOENT) {
    text = ReadProcText(absl::StrCat(root, "proc/net/", file));
  }
  return text;
}

absl::Status ReadProc(const Filter& filter, const ReadOptions& options, Collector& collect,
                      TcpSnapshot* snapshot) {
  ProcFs proc(options.proc_root);
  const std::string root = absl::StrCat(proc.root(), proc.root().ends_with('/') ? "" : "/");
  for (int family : FamiliesFor(filter)) {
    int64_t start = MonotonicNanos();
    absl::StatusOr<absl::string_view> text = ReadTcpTable(root, family);
    int64_t read_done = MonotonicNanos();
    snapshot->read_nanos += read_done - start;
    if (!text.ok()) {
      // A kernel without IPv6 has no tcp6 file: no IPv6 sockets, not an error.
      if (family == AF_INET6 && ErrnoOf(text.status()) == ENOENT) {
        continue;
      }
      return text.status();
    }
    snapshot->bytes_read += text->size();
    ProcParseStats stats =
        ParseProcNetTcp(*text, [&](const TcpSocket& socket) { collect(socket); });
    snapshot->sockets_read += stats.sockets;
    snapshot->skipped_lines += stats.skipped_lines;
    snapshot->parse_nanos += MonotonicNanos() - read_done;
  }
  return absl::OkStatus();
}

absl::Status ReadNetlink(const Filter& filter, Collector& collect, TcpSnapshot* snapshot) {
  for (int family : FamiliesFor(filter)) {
    int64_t start = MonotonicNanos();
    SOCKLAB_ASSIGN_OR_RETURN(
        NetlinkDumpStats stats,
        DumpTcpSocketsNetlink({.family = family, .states = filter.states, .port = filter.port},
                              [&](const TcpSocket& socket) { collect(socket); }));
    // Receiving and decoding interleave per message; the whole dump counts as reading.
    snapshot->read_nanos += MonotonicNanos() - start;
    snapshot->sockets_read += stats.sockets;
    snapshot->bytes_read += stats.bytes;
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view SourceName(Source source) {
  return source == Source::kNetlink ? "netlink" : "proc";
}

std::optional<Source> ParseSourceName(absl::string_view text) {
  if (text == "proc") {
    return Source::kProc;
  }
  if (text == "netlink") {
    return Source::kNetlink;
  }
  return std::nullopt;
}

absl::StatusOr<TcpSnapshot> ReadTcpSnapshot(const Filter& filter, const ReadOptions& options) {
  TcpSnapshot snapshot;
  Collector collect(filter, options.keep_sockets, &snapshot);
  if (options.source == Source::kNetlink) {
    SOCKLAB_RETURN_IF_ERROR(ReadNetlink(filter, collect, &snapshot));
  } else {
    SOCKLAB_RETURN_IF_ERROR(ReadProc(filter, options, collect, &snapshot));
    if (options.listen_backlog && snapshot.tally.Count(TcpState::kListen) != 0) {
      int64_t start = MonotonicNanos();
      AddListenBacklogs(filter, collect.listeners());
      snapshot.read_nanos += MonotonicNanos() - start;  // a second trip to the kernel
    }
  }
  for (const TcpSocket& socket : collect.listeners()) {
    if (socket.is_listen()) {
      snapshot.tally.listen_queue += socket.rx_queue;
      snapshot.tally.listen_backlog += socket.accept_backlog.value_or(0);
    }
  }
  return snapshot;
}

absl::StatusOr<std::vector<TcpSocket>> ReadTcpSockets(const Filter& filter, Source source) {
  SOCKLAB_ASSIGN_OR_RETURN(TcpSnapshot snapshot, ReadTcpSnapshot(filter, {.source = source}));
  return std::move(snapshot.sockets);
}

absl::StatusOr<StateTally> SampleStates(const Filter& filter, Source source) {
  SOCKLAB_ASSIGN_OR_RETURN(
      TcpSnapshot snapshot,
      ReadTcpSnapshot(filter, {.source = source, .listen_backlog = false, .keep_sockets = false}));
  return snapshot.tally;
}

}  // namespace socklab::tcpstat
