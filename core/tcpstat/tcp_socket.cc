#include "core/tcpstat/tcp_socket.h"

namespace socklab::tcpstat {

absl::string_view TcpTimerName(TcpTimer timer) {
  switch (timer) {
    case TcpTimer::kNone:
      return "off";
    case TcpTimer::kRetransmit:
      return "on";
    case TcpTimer::kKeepalive:
      return "keepalive";
    case TcpTimer::kTimeWait:
      return "timewait";
    case TcpTimer::kZeroWindowProbe:
      return "persist";
  }
  return "unknown";
}

}  // namespace socklab::tcpstat
