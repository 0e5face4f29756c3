#include "core/sysinfo/proc_fs.h"

#include <errno.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/status.h"

namespace socklab {

absl::StatusOr<std::string> ProcFs::ReadFile(absl::string_view relative_path) const {
  std::string path = absl::StrCat(root_, root_.ends_with('/') ? "" : "/", relative_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ErrnoError(errno == 0 ? ENOENT : errno, absl::StrCat("open ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
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
  for (absl::string_view field : absl::StrSplit(*text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
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
