#include "core/metrics/http_endpoint.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/metrics/exposition.h"
#include "core/net/socket.h"

namespace socklab::metrics {
namespace {

// How long a scraper has to send its request, and to take the answer; then it is dropped.
constexpr int64_t kRequestTimeoutNs = 5'000'000'000;
// The most request bytes read: a scrape's request line and headers are a few hundred.
constexpr size_t kMaxRequestBytes = 16 * 1024;

// Waits until `fd` has `events` or the stop eventfd fires or `deadline_ns` passes; true for the
// first.
bool WaitFor(int fd, short events, int stop_fd, int64_t deadline_ns) {
  for (;;) {
    const int64_t left_ns = deadline_ns - MonotonicNanos();
    if (left_ns <= 0) {
      return false;
    }
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(left_ns / 1'000'000 + 1));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0 || fds[1].revents != 0) {
      return false;
    }
    return true;
  }
}

std::string Response(absl::string_view status, absl::string_view content_type,
                     absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
}

}  // namespace

absl::StatusOr<SocketAddress> ParseMetricsAddress(absl::string_view flag, absl::string_view text) {
  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(text);
  if (!address.ok()) {
    return UsageError(absl::StrCat(flag, " '", text, "' is no ADDR:PORT"),
                      "give where to serve /metrics, e.g. 127.0.0.1:9464 or [::1]:9464");
  }
  return address;
}

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const SocketAddress& address,
                                                                  Render render) {
  ListenOptions options;
  options.address = address;
  options.backlog = 16;
  options.exclusive_bind = true;
  absl::StatusOr<UniqueFd> listener = ListenTcp(options);
  if (!listener.ok()) {
    return listener.status();
  }
  absl::StatusOr<SocketAddress> bound = LocalAddressOf(listener->get());
  if (!bound.ok()) {
    return bound.status();
  }
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (stop.get() < 0) {
    return ErrnoError(errno, "eventfd for the metrics endpoint");
  }
  std::unique_ptr<HttpEndpoint> endpoint(
      new HttpEndpoint(*bound, std::move(*listener), std::move(stop), std::move(render)));
  endpoint->thread_ = std::thread([self = endpoint.get()] { self->Serve(); });
  return endpoint;
}

HttpEndpoint::HttpEndpoint(SocketAddress address, UniqueFd listener, UniqueFd stop, Render render)
    : address_(address),
      listener_(std::move(listener)),
      stop_(std::move(stop)),
      render_(std::move(render)) {}

HttpEndpoint::~HttpEndpoint() {
  const uint64_t one = 1;
  // An eventfd write of 1 cannot fail short of a bug (the counter is far from overflowing).
  [[maybe_unused]] const ssize_t written = write(stop_.get(), &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
}

void HttpEndpoint::Serve() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      continue;  // EINTR
    }
    if (fds[1].revents != 0) {
      return;
    }
    UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (connection.get() < 0) {
      // ECONNABORTED, EMFILE...: this scrape is lost, the next one comes. Back off a little
      // on EMFILE/ENFILE so a full fd table does not spin this thread.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        poll(&fds[1], 1, 100);
      }
      continue;
    }
    Answer(connection.get());
  }
}

void HttpEndpoint::Answer(int fd) {
  const int64_t deadline_ns = MonotonicNanos() + kRequestTimeoutNs;
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos) {
    if (request.size() >= kMaxRequestBytes || !WaitFor(fd, POLLIN, stop_.get(), deadline_ns)) {
      return;
    }
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      return;  // the scraper went away
    }
    request.append(buffer, static_cast<size_t>(n));
  }
  // "GET /metrics HTTP/1.1": the method, the target (a query string is ignored), the version.
  const absl::string_view line =
      absl::string_view(request).substr(0, request.find_first_of("\r\n"));
  const size_t space = line.find(' ');
  const absl::string_view method = line.substr(0, space);
  absl::string_view target =
      space == absl::string_view::npos ? absl::string_view() : line.substr(space + 1);
  target = target.substr(0, target.find(' '));
  target = target.substr(0, target.find('?'));
  std::string response;
  if (method != "GET" && method != "HEAD") {
    response = Response("405 Method Not Allowed", "text/plain; charset=utf-8",
                        "only GET /metrics is served\n");
  } else if (target != "/metrics") {
    response =
        Response("404 Not Found", "text/plain; charset=utf-8", "the metrics are at /metrics\n");
  } else {
    response = Response("200 OK", kContentType, render_());
    if (method == "HEAD") {
      response.resize(response.find("\r\n\r\n") + 4);
    }
  }
  size_t sent = 0;
  while (sent < response.size()) {
    const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLOUT, stop_.get(), deadline_ns)) {
        return;
      }
    } else {
      return;  // EPIPE, ECONNRESET: the scraper went away
    }
  }
}

}  // namespace socklab::metrics
