#include "client/repro/state_sampler.h"

#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/tcpstat/reader.h"

namespace socklab::repro {

// Reads /proc/net/tcp{,6} of the calling process's namespace through core/tcpstat, so TIME_WAIT
// and orphaned sockets, which no fd points at, show up too.
std::vector<SocketState> SampleSocketsOnPorts(const std::vector<uint16_t>& ports) {
  std::vector<SocketState> out;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (uint16_t port : ports) {
    absl::StatusOr<std::vector<tcpstat::TcpSocket>> sockets =
        tcpstat::ReadTcpSockets(tcpstat::Filter{.port = port});
    if (!sockets.ok()) {
      continue;
    }
    for (const tcpstat::TcpSocket& s : *sockets) {
      SocketState state;
      state.who = s.inode == 0 ? "(no fd)" : "(kernel)";
      state.local = s.local.ToString();
      state.remote = s.remote.ToString();
      state.state = std::string(tcpstat::TcpStateName(s.state));
      if (s.timer != tcpstat::TcpTimer::kNone) {
        state.timer = absl::StrFormat("timer %s %.1fs", tcpstat::TcpTimerName(s.timer),
                                      static_cast<double>(s.timer_ms) / 1000.0);
      }
      if (seen.insert({state.local, state.remote, state.state}).second) {
        out.push_back(std::move(state));
      }
    }
  }
  return out;
}

bool StateSamplerAvailable() { return true; }

}  // namespace socklab::repro
