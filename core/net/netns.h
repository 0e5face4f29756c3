#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/process/child_process.h"

namespace socklab {

// Private network namespaces and the child processes that live in them (core/process).
//
// A namespace is never created in the calling process: a forked child calls
// unshare(CLONE_NEWNET), works inside it and exits. The namespace dies with the last process in
// it, so nothing can leak, even when the child crashes or the parent is killed (the child has
// PR_SET_PDEATHSIG SIGKILL). Nothing is ever mounted under /run/netns, so `ip netns list` stays
// empty. The host namespace's sysctls and nftables rules are never touched.

struct ChildOptions {
  // unshare(CLONE_NEWNET) in the child and bring its loopback up before `body` runs.
  bool new_netns = false;
  // The child is killed after this long.
  absl::Duration timeout = absl::Seconds(60);
};

struct ChildOutput {
  std::string output;       // what `body` returned
  ChildProcess::Exit exit;  // exit_code 0 when `body` returned normally
};

// Forks; the child (optionally in a fresh network namespace) runs `body` and sends the string
// it returns back through a pipe, then _exits without running the parent's atexit handlers.
// Errors: fork/pipe failures, or unshare failing in the child (EPERM without CAP_SYS_ADMIN; the
// Status carries that errno so callers can report "skipped"). Call from a single-threaded
// process only (fork copies one thread). Blocks until the child ends or the timeout kills it.
absl::StatusOr<ChildOutput> RunInChild(const ChildOptions& options,
                                       const std::function<std::string()>& body);

// OK when this process may create a private network namespace (checked in a throwaway child),
// else the reason. Thread affinity: none (forks).
absl::Status CheckNetnsAvailable();

// Sets IFF_UP on "lo" in the calling thread's network namespace (SIOCSIFFLAGS ioctl; a fresh
// namespace starts with lo down, so 127.0.0.1 would be unreachable).
absl::Status BringLoopbackUp();
// Sets the MTU of "lo" in the calling thread's namespace (SIOCSIFMTU).
absl::Status SetLoopbackMtu(int mtu);

// Writes a sysctl (dotted name) in the caller's namespace. Only for per-namespace net.* sysctls
// inside a private namespace: it refuses unless InPrivateNetns().
absl::Status WriteNetnsSysctl(absl::string_view name, absl::string_view value);

// True when the calling process is (still) in the namespace RunInChild created for it. /proc/1
// is often unreadable in containers, so "not the host" is proven positively, not by comparing
// with PID 1.
bool InPrivateNetns();

}  // namespace socklab
