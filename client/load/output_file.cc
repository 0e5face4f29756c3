#include "client/load/output_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace socklab::client {
namespace {

// What the user can do about a failed open or write of a report file.
const char* FixFor(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return "check the directory exists";
    case EACCES:
    case EPERM:
    case EROFS:
      return "choose a path you may write";
    case EISDIR:
      return "give a file name, not a directory";
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return "free space there or choose another path";
    default:
      return "choose another path";
  }
}

}  // namespace

absl::StatusOr<OutputFile> OutputFile::Open(const std::string& flag, const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    const int err = errno;
    return absl::InvalidArgumentError(
        ErrnoError(err, absl::StrCat(flag, " ", path), FixFor(err)).message());
  }
  return OutputFile(path, std::move(fd));
}

absl::Status OutputFile::WriteAndClose(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_.get(), text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      return ErrnoError(err, absl::StrCat("write ", path_), FixFor(err));
    }
    done += static_cast<size_t>(n);
  }
  // close() reports what a network or quota-limited filesystem could not write.
  if (::close(fd_.Release()) != 0) {
    const int err = errno;
    return ErrnoError(err, absl::StrCat("write ", path_), FixFor(err));
  }
  return absl::OkStatus();
}

}  // namespace socklab::client
