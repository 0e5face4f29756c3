#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/base/unique_fd.h"
#include "core/net/address.h"

namespace socklab::metrics {

// A tiny HTTP/1.x responder for Prometheus scrapes: GET /metrics answers 200 with render()'s
// text (Content-Type kContentType), any other path 404, any other method 405; every answer closes
// the connection. It runs on a thread of its own, so a scrape (or a slow scraper: each request has
// 5 s to arrive) never delays an event loop. One request at a time: scrapers come
// every few seconds, not in crowds.
//
// Thread affinity: Start() and the destructor from one thread; render() is called on the
// endpoint's thread and must be safe there (read atomics, take the owner's locks). Owns its
// listening socket and thread.
class HttpEndpoint {
 public:
  using Render = std::function<std::string()>;

  // Binds `address` (port 0 picks a free one) and starts serving. Errors name the address, the
  // errno and the fix ("bind 127.0.0.1:9464: Address already in use (EADDRINUSE)").
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const SocketAddress& address,
                                                             Render render);
  // Stops the thread (at once, even mid-request) and closes the socket.
  ~HttpEndpoint();

  // The bound address, with the real port when port 0 was asked for.
  const SocketAddress& address() const { return address_; }

 private:
  HttpEndpoint(SocketAddress address, UniqueFd listener, UniqueFd stop, Render render);
  void Serve();
  void Answer(int fd);

  SocketAddress address_;
  UniqueFd listener_;
  UniqueFd stop_;  // an eventfd: written by the destructor, polled beside every wait
  Render render_;
  std::thread thread_;
};

// "127.0.0.1:9464", "[::1]:9464", ":9464": the address of a --metrics flag. A UsageError naming
// `flag` and the form otherwise.
absl::StatusOr<SocketAddress> ParseMetricsAddress(absl::string_view flag, absl::string_view text);

}  // namespace socklab::metrics
