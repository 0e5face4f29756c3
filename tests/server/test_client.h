#pragma once

// Blocking loopback clients for the server tests: real kernel sockets with generous receive
// timeouts so a broken server fails a test instead of hanging it.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/base/unique_fd.h"
#include "core/net/address.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "tests/testing/proc_status.h"

namespace socklab::server::testing {

inline UniqueFd Connect(const SocketAddress& address, int timeout_s = 20) {
  absl::StatusOr<UniqueFd> fd = ConnectTcp(address);
  if (!fd.ok()) {
    return UniqueFd();
  }
  timeval tv{timeout_s, 0};
  setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return std::move(*fd);
}

inline std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

inline bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly n bytes (fewer on EOF, error or the socket's receive timeout).
inline std::string RecvExactly(int fd, size_t n) {
  std::string out(n, '\0');
  size_t off = 0;
  while (off < n) {
    ssize_t r = recv(fd, out.data() + off, n - off, 0);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      break;
    }
    off += static_cast<size_t>(r);
  }
  out.resize(off);
  return out;
}

// Reads until EOF; `error` gets the errno if the read failed instead.
inline std::string RecvUntilEof(int fd, int* error = nullptr) {
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      if (error != nullptr) {
        *error = errno;
      }
      return out;
    }
    if (r == 0) {
      if (error != nullptr) {
        *error = 0;
      }
      return out;
    }
    out.append(buf, static_cast<size_t>(r));
  }
}

// Pushes from `fd` (made nonblocking) without reading until the windows stay shut for 200 ms, at
// most `limit` bytes, or the connection fails; returns what was sent.
inline std::string FillWithoutReading(int fd, size_t limit, uint32_t seed) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string block = RandomBytes(1 << 20, seed);
  std::string sent;
  while (sent.size() < limit) {
    size_t off = sent.size() % block.size();
    ssize_t n = send(fd, block.data() + off, block.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      sent.append(block, off, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      break;  // reset or closed by the server: nothing more goes out
    }
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 200) == 0) {
      break;
    }
  }
  return sent;
}

// After a shutdown that began while `sent` sat unread on both sides: half-closes (the draining
// server serves a connection until its peer closes it), reads (blocking) what the server echoes
// and expects every byte of `sent`, in order, then a clean EOF (not ECONNRESET).
inline void ExpectEverythingEchoedThenEof(int fd, const std::string& sent) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  shutdown(fd, SHUT_WR);
  int error = -1;
  std::string got = RecvUntilEof(fd, &error);
  EXPECT_EQ(error, 0) << "not a clean EOF after " << got.size() << " of " << sent.size();
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

// Whether fd becomes readable (data, EOF or error) within timeout_ms.
inline bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

using ::socklab::testing::VmRssKiB;

}  // namespace socklab::server::testing
