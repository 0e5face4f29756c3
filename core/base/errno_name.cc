#include "core/base/errno_name.h"

#include <string.h>

#include "absl/strings/str_cat.h"

namespace socklab {

std::string ErrnoName(int err) {
  // strerrorname_np (glibc >= 2.32) knows every name the C library knows.
  if (const char* name = strerrorname_np(err); name != nullptr) {
    return name;
  }
  return absl::StrCat("errno ", err);
}

std::string ErrnoMessage(int err) {
  if (const char* text = strerrordesc_np(err); text != nullptr) {
    return text;
  }
  return absl::StrCat("Unknown error ", err);
}

std::string DescribeErrno(int err) {
  return absl::StrCat(ErrnoMessage(err), " (", ErrnoName(err), ")");
}

}  // namespace socklab
