#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/loop/epoll_loop.h"
#include "core/loop/event_loop.h"
#include "core/loop/uring_loop.h"

namespace socklab::loop {

absl::string_view BackendName(Backend backend) {
  return backend == Backend::kIoUring ? "io_uring" : "epoll";
}

absl::StatusOr<BackendChoice> ParseBackendChoice(absl::string_view text) {
  if (text == "auto") {
    return BackendChoice::kAuto;
  }
  if (text == "io_uring" || text == "iouring" || text == "uring") {
    return BackendChoice::kIoUring;
  }
  if (text == "epoll") {
    return BackendChoice::kEpoll;
  }
  return UsageError(absl::StrCat("unknown backend '", text, "'"), "use auto, io_uring or epoll");
}

absl::string_view OpName(Op op) {
  switch (op) {
    case Op::kAccept:
      return "accept";
    case Op::kConnect:
      return "connect";
    case Op::kReceive:
      return "receive";
    case Op::kSend:
      return "send";
    case Op::kClose:
      return "close";
    case Op::kTimer:
      return "timer";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(Backend backend,
                                                             CompletionHandler* handler,
                                                             const LoopOptions& options) {
  if (backend == Backend::kIoUring) {
    return UringLoop::Create(handler, options);
  }
  return EpollLoop::Create(handler, options);
}

}  // namespace socklab::loop
