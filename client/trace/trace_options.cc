#include "client/trace/trace_options.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace socklab::client {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string NetnsPath(const std::string& name) { return absl::StrCat("/run/netns/", name); }

absl::Status TraceOptions::Validate() const {
  if (port == 0) {
    return UsageError("no port given", "trace one port: --port 8080");
  }
  if (duration_given && duration <= absl::ZeroDuration()) {
    return UsageError("-d must be longer than 0",
                      "give a duration (-d 10s), or leave -d out to trace until Ctrl-C");
  }
  if (!pcap.empty()) {
    const size_t slash = pcap.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : pcap.substr(0, slash));
    if (IsDirectory(pcap)) {
      return UsageError(absl::StrCat("--pcap ", pcap, " is a directory"),
                        "give a file name: --pcap trace.pcap");
    }
    if (!IsDirectory(dir)) {
      return UsageError(absl::StrCat("--pcap ", pcap, ": no directory ", dir),
                        "create it first, or write the pcap somewhere that exists");
    }
  }
  if (!netns.empty()) {
    struct stat st {};
    if (netns.find('/') != std::string::npos || stat(NetnsPath(netns).c_str(), &st) != 0) {
      return UsageError(
          absl::StrCat("no network namespace '", netns, "' (no ", NetnsPath(netns), ")"),
          "`ip netns list` shows the names; leave --netns out for this one");
    }
  }
  return absl::OkStatus();
}

}  // namespace socklab::client
