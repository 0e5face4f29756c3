#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/unique_fd.h"

namespace socklab::client {

// A report file (--json, --hgrm) opened before the run, so a path that cannot be written is
// refused before any load is sent rather than after a long run; written once at the end.
// Thread affinity: one thread; owns its fd.
class OutputFile {
 public:
  // Creates or truncates `path`. A failure is a UsageError (exit 2) naming the path, the errno
  // and the fix for that errno.
  static absl::StatusOr<OutputFile> Open(const std::string& flag, const std::string& path);

  // Writes all of `text` and closes the file. Errors name the path, the errno and its fix.
  absl::Status WriteAndClose(const std::string& text);

 private:
  OutputFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  std::string path_;
  UniqueFd fd_;
};

}  // namespace socklab::client
