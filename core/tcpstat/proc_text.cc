#include "core/tcpstat/proc_text.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace socklab::tcpstat {

absl::StatusOr<absl::string_view> ReadProcText(const std::string& path) {
  // Grows to the largest table seen on this thread and stays: no fresh pages to fault in on
  // every sample.
  thread_local std::string buffer;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError(errno, absl::StrCat("open ", path));
  }
  if (buffer.size() < 256 * 1024) {
    buffer.resize(256 * 1024);
  }
  size_t used = 0;
  while (true) {
    if (used == buffer.size()) {
      buffer.resize(buffer.size() * 2);
    }
    // seq_file fills as much of a large read as it can; one big read per ~page of sockets.
    ssize_t n = ::read(fd.get(), buffer.data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, absl::StrCat("read ", path));
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  return absl::string_view(buffer.data(), used);
}

}  // namespace socklab::tcpstat
