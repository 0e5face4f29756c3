#include "core/loop/backend_probe.h"

#include <liburing.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "core/base/status.h"
#include "core/loop/event_loop.h"

namespace socklab::loop {
namespace {

IoUringSupport Refused(int err, std::string reason) {
  return IoUringSupport{false, std::move(reason), err};
}

absl::string_view SetupHint(int err) {
  switch (err) {
    case EPERM:
    case EACCES:
      return "refused by a seccomp filter, a container runtime or kernel.io_uring_disabled";
    case ENOSYS:
      return "kernel built without io_uring, or a sandbox (gVisor) that lacks it";
    case ENOMEM:
      return "RLIMIT_MEMLOCK too low for the ring (kernels before 5.12 charge rings to it)";
    default:
      return "";
  }
}

struct OpNeed {
  int opcode;
  const char* name;
};

constexpr OpNeed kNeededOps[] = {
    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"}, {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
    {IORING_OP_RECV, "IORING_OP_RECV"},     {IORING_OP_SEND, "IORING_OP_SEND"},
    {IORING_OP_CLOSE, "IORING_OP_CLOSE"},   {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
    {IORING_OP_READ, "IORING_OP_READ"},
};

}  // namespace

IoUringSupport ProbeIoUring(const ProcFs& proc) {
  // 6.6+: 0 allowed, 1 only for CAP_SYS_ADMIN or kernel.io_uring_group, 2 disabled for all.
  // The file is absent on older kernels.
  absl::StatusOr<int64_t> disabled = proc.ReadSysctlInt("kernel.io_uring_disabled");
  if (disabled.ok() && *disabled == 2) {
    return Refused(EPERM, "kernel.io_uring_disabled=2");
  }

  utsname uts{};
  int major = 0;
  int minor = 0;
  if (uname(&uts) == 0 && std::sscanf(uts.release, "%d.%d", &major, &minor) == 2 && (major < 6)) {
    return Refused(ENOSYS, absl::StrCat("kernel ", uts.release,
                                        " lacks multishot receive (io_uring needs 6.0 here)"));
  }

  io_uring ring;
  int ret = io_uring_queue_init(8, &ring, 0);
  if (ret < 0) {
    std::string reason = absl::StrCat("io_uring_setup refused: ", DescribeErrno(-ret));
    absl::string_view hint = SetupHint(-ret);
    if (disabled.ok() && *disabled == 1 && (-ret == EPERM || -ret == EACCES)) {
      hint = "kernel.io_uring_disabled=1 and this process is not in kernel.io_uring_group";
    }
    if (!hint.empty()) {
      absl::StrAppend(&reason, "; ", hint);
    }
    return Refused(-ret, std::move(reason));
  }
  IoUringSupport support{true, "", 0};
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (probe == nullptr) {
    support = Refused(ENOSYS, "io_uring_register(PROBE) failed");
  } else {
    for (const OpNeed& need : kNeededOps) {
      if (!io_uring_opcode_supported(probe, need.opcode)) {
        support = Refused(ENOSYS, absl::StrCat("kernel lacks ", need.name));
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  io_uring_queue_exit(&ring);
  return support;
}

absl::StatusOr<BackendSelection> SelectBackend(BackendChoice choice) {
  if (choice == BackendChoice::kEpoll) {
    return BackendSelection{Backend::kEpoll, ""};
  }
  IoUringSupport support = ProbeIoUring();
  if (support.usable) {
    return BackendSelection{Backend::kIoUring, ""};
  }
  if (choice == BackendChoice::kIoUring) {
    return ErrnoError(support.err, absl::StrCat("io_uring unavailable (", support.reason, ")"),
                      "use --backend epoll or --backend auto");
  }
  return BackendSelection{Backend::kEpoll, support.reason};
}

}  // namespace socklab::loop
