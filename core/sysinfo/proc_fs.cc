#include "core/sysinfo/proc_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"

namespace socklab {

absl::StatusOr<std::string> ProcFs::ReadFile(absl::string_view relative_path) const {
  std::string path = absl::StrCat(root_, root_.ends_with('/') ? "" : "/", relative_path);
  // open(2)/read(2) rather than an ifstream, so the errno in the message is the call's own.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError(errno, absl::StrCat("open ", path));
  }
  std::string contents;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n == 0) {
      return contents;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoError(errno, absl::StrCat("read ", path));
    }
    contents.append(buffer, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> ProcFs::ReadSysctl(absl::string_view name) const {
  absl::StatusOr<std::string> text =
      ReadFile(absl::StrCat("proc/sys/", absl::StrReplaceAll(name, {{".", "/"}})));
  if (!text.ok()) {
    return text.status();
  }
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::StatusOr<std::vector<int64_t>> ProcFs::ReadSysctlInts(absl::string_view name) const {
  absl::StatusOr<std::string> text = ReadSysctl(name);
  if (!text.ok()) {
    return text.status();
  }
  std::vector<int64_t> values;
  for (absl::string_view field :
       absl::StrSplit(*text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (ec != std::errc() || end != field.data() + field.size()) {
      return absl::DataLossError(absl::StrCat(name, ": '", *text, "' is not a list of integers"));
    }
    values.push_back(value);
  }
  if (values.empty()) {
    return absl::DataLossError(absl::StrCat(name, " is empty"));
  }
  return values;
}

absl::StatusOr<int64_t> ProcFs::ReadSysctlInt(absl::string_view name) const {
  absl::StatusOr<std::vector<int64_t>> values = ReadSysctlInts(name);
  if (!values.ok()) {
    return values.status();
  }
  return values->front();
}

}  // namespace socklab
