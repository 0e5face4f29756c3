#include "core/loop/blocking_closer.h"

#include <errno.h>
#include <unistd.h>

namespace socklab::loop {

BlockingCloser::~BlockingCloser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    t.join();
  }
}

void BlockingCloser::Submit(int fd, Token token) {
  ++pending_;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Job{fd, token});
    // Every thread busy (or none yet): one more, so a close that lingers does not hold up this
    // one. queue_.size() > idle_ also covers idle threads already claimed by earlier jobs.
    if (queue_.size() > static_cast<size_t>(idle_) &&
        threads_.size() < static_cast<size_t>(kMaxThreads)) {
      start = true;
      threads_.emplace_back([this] { Work(); });
    }
  }
  if (!start) {
    cv_.notify_one();
  }
}

std::vector<BlockingCloser::Done> BlockingCloser::TakeDone() {
  std::vector<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  pending_ -= done.size();
  return done;
}

int BlockingCloser::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(threads_.size());
}

void BlockingCloser::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) {
      return;  // stopping, and every submitted close has run
    }
    Job job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    // The blocking part: up to the socket's linger time. Errors other than EBADF leave the fd
    // closed on Linux, so EINTR is success.
    int res = 0;
    if (::close(job.fd) != 0 && errno != EINTR) {
      res = -errno;
    }
    lock.lock();
    done_.push_back(Done{job.fd, job.token, res});
    lock.unlock();
    notify_();
    lock.lock();
  }
}

}  // namespace socklab::loop
