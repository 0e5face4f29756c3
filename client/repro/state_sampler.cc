#include "client/repro/state_sampler.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "client/repro/sock_util.h"
#include "core/tcpstat/reader.h"

namespace socklab::repro {
namespace {

// Socket inode -> fd number for this process's descriptors ("socket:[12345]" links).
std::map<uint64_t, int> SocketFdsOfThisProcess() {
  std::map<uint64_t, int> fds;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return fds;
  }
  while (dirent* e = readdir(dir)) {
    char link[64];
    ssize_t n = readlinkat(dirfd(dir), e->d_name, link, sizeof(link) - 1);
    if (n <= 0) {
      continue;
    }
    absl::string_view target(link, static_cast<size_t>(n));
    uint64_t inode = 0;
    if (absl::ConsumePrefix(&target, "socket:[") && absl::ConsumeSuffix(&target, "]") &&
        absl::SimpleAtoi(target, &inode)) {
      fds[inode] = atoi(e->d_name);
    }
  }
  closedir(dir);
  return fds;
}

std::string WhoHolds(const tcpstat::TcpSocket& s, const std::map<uint64_t, int>& fds) {
  if (s.inode != 0) {
    auto it = fds.find(s.inode);
    return it != fds.end() ? absl::StrCat("(fd ", it->second, ")") : "(other process)";
  }
  switch (s.state) {
    case tcpstat::TcpState::kTimeWait:
      return "(no fd)";
    case tcpstat::TcpState::kSynRecv:
      return "(syn queue)";
    case tcpstat::TcpState::kEstablished:
    case tcpstat::TcpState::kCloseWait:
      // A child nobody accept()ed yet has no file; after accept() it would have one.
      return "(not accepted)";
    default:
      return "(orphan)";
  }
}

std::string QueueText(const tcpstat::TcpSocket& s) {
  if (s.is_listen()) {
    return s.accept_backlog.has_value()
               ? absl::StrCat("accept queue ", s.rx_queue, " (backlog ", *s.accept_backlog, ")")
               : absl::StrCat("accept queue ", s.rx_queue);
  }
  // /proc's rx_queue is rcv_nxt - copied_seq, which counts a received FIN as one byte.
  using tcpstat::TcpState;
  bool fin_received = s.state == TcpState::kCloseWait || s.state == TcpState::kLastAck ||
                      s.state == TcpState::kClosing || s.state == TcpState::kTimeWait;
  int64_t unread = static_cast<int64_t>(s.rx_queue) - (fin_received && s.rx_queue > 0 ? 1 : 0);
  return DescribeQueues(static_cast<int>(s.state), unread, s.tx_queue);
}

}  // namespace

std::vector<SampledSocket> SampleSocketsOnPorts(const std::vector<uint16_t>& ports) {
  std::vector<SampledSocket> out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  const std::map<uint64_t, int> fds = SocketFdsOfThisProcess();
  for (uint16_t port : ports) {
    absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets =
        tcpstat::ReadTcpSockets(tcpstat::Filter{.port = port});
    if (!sockets.ok()) {
      continue;
    }
    for (const tcpstat::TcpSocket& s : *sockets) {
      SampledSocket sampled;
      sampled.inode = s.inode;
      sampled.held_here = s.inode != 0 && fds.count(s.inode) != 0;
      SocketState& state = sampled.state;
      state.who = WhoHolds(s, fds);
      state.local = s.local.ToString();
      state.remote = s.remote.ToString();
      state.state = std::string(tcpstat::TcpStateName(s.state));
      if (s.timer != tcpstat::TcpTimer::kNone) {
        state.timer = absl::StrFormat("timer %s %.1fs", tcpstat::TcpTimerName(s.timer),
                                      static_cast<double>(s.timer_ms) / 1000.0);
      }
      state.detail = QueueText(s);
      if (seen.insert({state.local, state.remote, state.state}).second) {
        out.push_back(std::move(sampled));
      }
    }
  }
  return out;
}

}  // namespace socklab::repro
