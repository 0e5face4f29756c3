#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/base/unique_fd.h"
#include "core/net/socket.h"

namespace socklab::server {

// ListenTcp, for a server that restarts on its port at once after its previous instance died.
//
// A dead process's listener can outlive it: an io_uring multishot accept holds its own reference
// to the listening file, which goes only when the kernel has torn the ring down, on a workqueue
// after the process exited (20 to 50 ms measured on Linux 6.x after SIGKILL). A bind meanwhile
// fails with EADDRINUSE. So on EADDRINUSE, when every socket listening on the port belongs to no
// process (no /proc/PID/fd links to it), the bind is retried every 10 ms for up to `patience`. A
// listener that a live process holds fails at once, as before: that port is really in use.
// Without the rights to see other users' fds, a listener of theirs looks ownerless, which costs
// only the wait.
//
// Thread affinity: none. Blocks up to `patience`.
absl::StatusOr<UniqueFd> ListenAfterDeadOwner(const ListenOptions& options,
                                              absl::Duration patience);

}  // namespace socklab::server
