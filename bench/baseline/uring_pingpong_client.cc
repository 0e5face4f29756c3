// The simplest io_uring ping-pong client, the yardstick for `socklab load --backend io_uring`
// (bench/e2e/compare_baseline.py): what any io_uring client pays on this kernel. The closed loop
// of baseline_pingpong_client on one ring (DEFER_TASKRUN and SINGLE_ISSUER when the kernel has
// them) with one request in flight per connection: a connect, then a send of the message, then
// recvs into the connection's own buffer until the echo is whole, then the next send. No
// provided buffers, no multishot, no registered files. Command line, churn and output:
// pingpong_common.h. No socklab code.
//
//   baseline_uring_pingpong_client PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "pingpong_common.h"
#include "uring_common.h"

namespace {

constexpr unsigned kRingEntries = 4096;

enum Op : uint64_t { kConnect, kSend, kRecv };

struct Slot {
  int fd = -1;
  size_t sent = 0;      // bytes of the current message written
  size_t received = 0;  // bytes of its echo read
  int64_t started_ns = 0;
  std::unique_ptr<char[]> echo;  // its own: every connection's recv is in flight at once
};

}  // namespace

int main(int argc, char** argv) {
  using baseline::NowNs;
  const baseline::PingPongRun run = baseline::PingPongRun::FromArgs(argc, argv);
  const size_t size = run.size;
  std::vector<Slot> slots(run.connections);
  baseline::PingPongTally tally;
  int one = 1;
  uint32_t next_source = 0;

  io_uring ring;
  baseline::InitRing(&ring, kRingEntries);

  auto arm = [&](int index, Op op) {
    Slot& s = slots[index];
    io_uring_sqe* sqe = baseline::Sqe(&ring);
    if (op == kConnect) {
      io_uring_prep_connect(sqe, s.fd, reinterpret_cast<const sockaddr*>(&run.server),
                            sizeof run.server);
    } else if (op == kSend) {
      io_uring_prep_send(sqe, s.fd, run.message.data() + s.sent, size - s.sent, MSG_NOSIGNAL);
    } else {
      io_uring_prep_recv(sqe, s.fd, s.echo.get() + s.received, size - s.received, 0);
    }
    io_uring_sqe_set_data64(sqe, (static_cast<uint64_t>(index) << 2) | op);
  };
  auto open_slot = [&](int index) {
    Slot& s = slots[index];
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (run.churn) {
      sockaddr_in source = baseline::PingPongRun::ChurnSource(&next_source);
      // The port is chosen at connect, against the whole 4-tuple, not at bind.
      setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (bind(s.fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) ++tally.errors;
    }
    if (!s.echo) s.echo = std::make_unique<char[]>(size);
    s.sent = s.received = 0;
    s.started_ns = NowNs();  // churn: the round trip includes the connect
    arm(index, kConnect);
  };
  auto reopen = [&](int index) {
    close(slots[index].fd);
    open_slot(index);
  };

  for (int i = 0; i < run.connections; ++i) open_slot(i);
  while (NowNs() < run.window_end_ns) {
    __kernel_timespec tick{0, 10'000'000};  // look at the clock at least every 10 ms
    io_uring_cqe* first;
    io_uring_submit_and_wait_timeout(&ring, &first, 1, &tick, nullptr);
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (cqe->user_data == LIBURING_UDATA_TIMEOUT) continue;  // the tick, on kernels before 5.11
      const int index = static_cast<int>(cqe->user_data >> 2);
      const Op op = static_cast<Op>(cqe->user_data & 3);
      Slot& s = slots[index];
      if (cqe->res < 0 || (op == kRecv && cqe->res == 0)) {
        ++tally.errors;  // the echo server never closes first: an EOF or error is a failure
        reopen(index);
        continue;
      }
      const size_t n = static_cast<size_t>(cqe->res);
      if (op == kConnect) {
        if (!run.churn) s.started_ns = NowNs();
        arm(index, kSend);
        continue;
      }
      if (op == kSend) {
        s.sent += n;
        arm(index, s.sent < size ? kSend : kRecv);
        continue;
      }
      if (std::memcmp(s.echo.get() + s.received, run.message.data() + s.received, n) != 0) {
        ++tally.mismatches;
      }
      s.received += n;
      if (s.received < size) {
        arm(index, kRecv);
        continue;
      }
      const int64_t now = NowNs();
      tally.RoundTrip(run, s.started_ns, now);
      if (run.churn) {
        reopen(index);
      } else {
        s.sent = s.received = 0;
        s.started_ns = now;
        arm(index, kSend);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  tally.Print(run);
  io_uring_queue_exit(&ring);
  return 0;
}
