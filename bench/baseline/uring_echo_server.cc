// The simplest io_uring echo server, the yardstick for socklab-server's io_uring backend
// (bench/e2e/compare_baseline.py): what any io_uring echo server pays on this kernel. One thread,
// one ring (DEFER_TASKRUN and SINGLE_ISSUER when the kernel has them), one 64 KiB buffer per
// connection and one request in flight per connection: a recv into the buffer, then a send of
// what it got from the same buffer, then the next recv. No provided buffers, no multishot, no
// registered files. No socklab code.
//
//   baseline_uring_echo_server PORT      (listens on 127.0.0.1:PORT; PORT 0 picks one)
// Prints "listening 127.0.0.1:PORT" once, then serves until SIGTERM/SIGINT.

#include <liburing.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "server_start.h"
#include "uring_common.h"

namespace {

constexpr unsigned kBufferBytes = 64 * 1024;
constexpr unsigned kRingEntries = 4096;

enum Op : uint64_t { kAccept, kRecv, kSend };

struct Connection {
  std::unique_ptr<char[]> buffer;
  unsigned got = 0;   // bytes the last recv brought
  unsigned sent = 0;  // of those, bytes already echoed
};

void Arm(io_uring* ring, int fd, Op op, Connection* c) {
  io_uring_sqe* sqe = baseline::Sqe(ring);
  if (op == kAccept) {
    io_uring_prep_accept(sqe, fd, nullptr, nullptr, 0);
  } else if (op == kRecv) {
    io_uring_prep_recv(sqe, fd, c->buffer.get(), kBufferBytes, 0);
  } else {
    io_uring_prep_send(sqe, fd, c->buffer.get() + c->sent, c->got - c->sent, MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(sqe, (static_cast<uint64_t>(fd) << 2) | op);
}

}  // namespace

int main(int argc, char** argv) {
  uint16_t port;
  int listener = baseline::StartServer(argc, argv, SOCK_STREAM, &port);
  int one = 1;

  io_uring ring;
  baseline::InitRing(&ring, kRingEntries);
  std::printf("listening 127.0.0.1:%d\n", port);
  std::fflush(stdout);

  std::vector<Connection> connections;
  Arm(&ring, listener, kAccept, nullptr);
  while (!baseline::stop) {
    io_uring_submit_and_wait(&ring, 1);  // a signal ends the wait with EINTR
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const int fd = static_cast<int>(cqe->user_data >> 2);
      const Op op = static_cast<Op>(cqe->user_data & 3);
      if (op == kAccept) {
        Arm(&ring, listener, kAccept, nullptr);
        if (cqe->res < 0) continue;
        const int client = cqe->res;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (static_cast<size_t>(client) >= connections.size()) connections.resize(client + 1);
        Connection& c = connections[client];
        if (!c.buffer) c.buffer = std::make_unique<char[]>(kBufferBytes);
        Arm(&ring, client, kRecv, &c);
        continue;
      }
      Connection& c = connections[fd];
      if (cqe->res <= 0) {  // EOF or error; the connection had nothing else in flight
        close(fd);
        continue;
      }
      if (op == kRecv) {
        c.got = static_cast<unsigned>(cqe->res);
        c.sent = 0;
      } else {
        c.sent += static_cast<unsigned>(cqe->res);
      }
      Arm(&ring, fd, c.sent < c.got ? kSend : kRecv, &c);
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  return 0;
}
