#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"

namespace socklab::loop {

// Runs close(2) off the loop thread for sockets whose close may block: with SO_LINGER {1, N > 0}
// Linux's close() waits up to N s for unacknowledged data even on a nonblocking socket
// (inet_release passes sk_lingertime to tcp_close; io_uring's IORING_OP_CLOSE is no way out, its
// final fput runs as task work on the submitting thread). The kernel semantics stay exactly what
// the user asked for, only the waiting moves to a closer thread.
//
// Threads start on demand, one more whenever a close is submitted while every thread is busy, up
// to kMaxThreads: a peer that never acknowledges holds one thread for N s without making the
// other closes wait behind it. Past that, closes queue in submission order.
//
// Thread affinity: Submit() and TakeDone() on the loop thread; `notify` runs on a closer thread
// after each close and must be safe from any thread (EventLoop::Wake). Owns the threads and,
// once submitted, the fds. The destructor lets every submitted close finish (each up to its
// linger time) and joins the threads.
class BlockingCloser {
 public:
  static constexpr int kMaxThreads = 8;

  struct Done {
    int fd;
    Token token;
    int res;  // 0 or -errno, as a kClose completion
  };

  explicit BlockingCloser(std::function<void()> notify) : notify_(std::move(notify)) {}
  ~BlockingCloser();
  BlockingCloser(const BlockingCloser&) = delete;
  BlockingCloser& operator=(const BlockingCloser&) = delete;

  // Takes ownership of `fd` and closes it on a closer thread.
  void Submit(int fd, Token token);
  // The closes finished since the last call, in the order they finished.
  std::vector<Done> TakeDone();
  // Closes submitted and not yet taken by TakeDone().
  size_t pending() const { return pending_; }
  // Threads started so far (tests).
  int threads() const;

 private:
  struct Job {
    int fd;
    Token token;
  };
  void Work();

  std::function<void()> notify_;
  size_t pending_ = 0;  // loop thread only
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<Done> done_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  bool stopping_ = false;
};

}  // namespace socklab::loop
