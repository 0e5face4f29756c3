#pragma once

#include <string>
#include <string_view>

namespace socklab {

// The symbolic name of an errno value: "ECONNRESET" for ECONNRESET, "errno 1234" if unknown.
std::string ErrnoName(int err);

// strerror(err) without the thread-safety problem of strerror: "Connection reset by peer".
std::string ErrnoMessage(int err);

// "Connection reset by peer (ECONNRESET)": the form every user-facing message uses.
std::string DescribeErrno(int err);

}  // namespace socklab
