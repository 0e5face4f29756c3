#include "core/capture/kernel_events.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/clock.h"
#include "core/base/errno_name.h"

namespace socklab {
namespace {

constexpr const char* kDefaultRoot = "/sys/kernel/tracing";
constexpr const char* kInstancePrefix = "socklab-";
constexpr const char* kSyncMarker = "socklab-sync";

// The events, as "system/name"; those with sport/dport fields are filtered in the kernel.
struct Tracepoint {
  const char* path;
  bool has_ports;
};
constexpr Tracepoint kTracepoints[] = {
    {"sock/inet_sock_set_state", true},  {"tcp/tcp_send_reset", false},
    {"tcp/tcp_receive_reset", true},     {"tcp/tcp_retransmit_skb", true},
    {"tcp/tcp_retransmit_synack", true},
};

absl::Status WriteFile(const std::string& path, absl::string_view value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  if (!out) {
    return absl::InternalError(absl::StrCat("cannot write '", value, "' to ", path));
  }
  return absl::OkStatus();
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// "TCP_SYN_SENT" -> "SYN_SENT" (the names `ss` and the rest of socklab use).
std::string StateName(absl::string_view s) { return std::string(absl::StripPrefix(s, "TCP_")); }

// "127.0.0.1:40000" or "[::1]:40000" -> 40000.
uint16_t PortOf(absl::string_view endpoint) {
  size_t colon = endpoint.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(endpoint.substr(colon + 1), &port)) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

// socklab's instances under `instances`, with the pid each belongs to.
std::vector<std::pair<std::string, int>> OurInstances(const std::string& instances) {
  std::vector<std::pair<std::string, int>> out;
  DIR* dir = opendir(instances.c_str());
  if (dir == nullptr) {
    return out;
  }
  while (dirent* e = readdir(dir)) {
    absl::string_view name = e->d_name;
    int pid = 0;
    if (absl::ConsumePrefix(&name, kInstancePrefix) && absl::SimpleAtoi(name, &pid) && pid > 0) {
      out.push_back({e->d_name, pid});
    }
  }
  closedir(dir);
  return out;
}

// Instances whose process is gone (it was killed before its destructor ran).
void RemoveStaleInstances(const std::string& instances) {
  for (const auto& [name, pid] : OurInstances(instances)) {
    if (kill(pid, 0) != 0 && errno == ESRCH) {
      const std::string path = absl::StrCat(instances, "/", name);
      WriteFile(absl::StrCat(path, "/events/enable"), "0").IgnoreError();
      rmdir(path.c_str());
    }
  }
}

}  // namespace

absl::StatusOr<std::string> TracefsRoot() {
  if (IsDirectory(absl::StrCat(kDefaultRoot, "/instances"))) {
    return std::string(kDefaultRoot);
  }
  // Not mounted here (containers often leave it out): mount it where only this process sees it.
  if (unshare(CLONE_NEWNS) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "tracefs is not mounted and a private mount namespace is refused: ", DescribeErrno(errno),
        "; run as root"));
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tracefs", kDefaultRoot, "tracefs", 0, nullptr) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot mount tracefs on ", kDefaultRoot, ": ", DescribeErrno(errno)));
  }
  return std::string(kDefaultRoot);
}

absl::Status RemoveStaleTraceInstances() {
  absl::StatusOr<std::string> root = TracefsRoot();
  if (!root.ok()) {
    return root.status();
  }
  RemoveStaleInstances(absl::StrCat(*root, "/instances"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TraceInstances() {
  absl::StatusOr<std::string> root = TracefsRoot();
  if (!root.ok()) {
    return root.status();
  }
  std::vector<std::string> names;
  for (const auto& [name, pid] : OurInstances(absl::StrCat(*root, "/instances"))) {
    names.push_back(name);
  }
  return names;
}

absl::StatusOr<std::unique_ptr<KernelEventTrace>> KernelEventTrace::Open() {
  absl::StatusOr<std::string> root = TracefsRoot();
  if (!root.ok()) {
    return root.status();
  }
  const std::string instances = absl::StrCat(*root, "/instances");
  RemoveStaleInstances(instances);
  std::string dir = absl::StrCat(instances, "/", kInstancePrefix, getpid());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create the trace instance ", dir, ": ", DescribeErrno(errno)));
  }
  std::unique_ptr<KernelEventTrace> trace(new KernelEventTrace(dir));
  if (absl::Status s = trace->ApplyFilters(); !s.ok()) {
    return s;
  }
  trace->trace_fd_ = open(absl::StrCat(dir, "/trace").c_str(), O_RDONLY | O_CLOEXEC);
  if (trace->trace_fd_ < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", dir, "/trace: ", DescribeErrno(errno)));
  }
  // The instance keeps its default clock: switching it to "mono" resets the buffers, which costs
  // tens of milliseconds per scenario. A marker written now with CLOCK_MONOTONIC's time ties the
  // two clocks together instead (Read).
  const int64_t before = MonotonicNanos();
  if (absl::Status s = WriteFile(absl::StrCat(dir, "/trace_marker"), kSyncMarker); !s.ok()) {
    return s;
  }
  // The marker's timestamp was taken somewhere within the write.
  trace->marker_monotonic_ns_ = before + (MonotonicNanos() - before) / 2;
  for (const Tracepoint& tp : kTracepoints) {
    std::string enable = absl::StrCat(dir, "/events/", tp.path, "/enable");
    if (absl::Status s = WriteFile(enable, "1"); !s.ok()) {
      return absl::NotFoundError(absl::StrCat(
          "tracepoint ", tp.path, " is not available on this kernel (", s.message(), ")"));
    }
  }
  return trace;
}

bool KernelEventTrace::Remove() {
  if (removed_) {
    return true;
  }
  if (trace_fd_ >= 0) {
    close(trace_fd_);  // an open file keeps the instance busy
    trace_fd_ = -1;
  }
  WriteFile(absl::StrCat(dir_, "/events/enable"), "0").IgnoreError();
  removed_ = rmdir(dir_.c_str()) == 0 || errno == ENOENT;
  return removed_;
}

KernelEventTrace::~KernelEventTrace() { Remove(); }

absl::Status KernelEventTrace::WatchPort(uint16_t port) {
  if (port == 0 || !ports_.insert(port).second) {
    return absl::OkStatus();
  }
  return ApplyFilters();
}

absl::Status KernelEventTrace::ApplyFilters() {
  std::vector<std::string> each;
  for (uint16_t port : ports_) {
    each.push_back(absl::StrCat("sport == ", port, " || dport == ", port));
  }
  // Before the first port: nothing (no TCP socket has both ports 0 and 1).
  const std::string filter =
      each.empty() ? "sport == 0 && sport == 1" : absl::StrJoin(each, " || ");
  for (const Tracepoint& tp : kTracepoints) {
    if (!tp.has_ports) {
      continue;
    }
    if (absl::Status s = WriteFile(absl::StrCat(dir_, "/events/", tp.path, "/filter"), filter);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KernelEvent>> KernelEventTrace::Read() const {
  std::string text;
  char buf[16384];
  lseek(trace_fd_, 0, SEEK_SET);
  for (ssize_t n; (n = read(trace_fd_, buf, sizeof(buf))) != 0;) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return absl::InternalError(absl::StrCat("reading ", dir_, "/trace: ", DescribeErrno(errno)));
    }
    text.append(buf, static_cast<size_t>(n));
  }
  // The marker line: "... 1234.567890: tracing_mark_write: socklab-sync".
  int64_t offset_ns = 0;  // CLOCK_MONOTONIC minus the trace clock
  if (size_t at = text.find(kSyncMarker); at != std::string::npos) {
    const size_t line_start = text.rfind('\n', at) + 1;  // npos + 1 == 0
    absl::string_view head(text.data() + line_start, at - line_start);
    head = head.substr(0, head.find(": tracing_mark_write"));
    double trace_seconds = 0;
    if (absl::SimpleAtod(head.substr(head.rfind(' ') + 1), &trace_seconds)) {
      offset_ns = marker_monotonic_ns_ - static_cast<int64_t>(trace_seconds * 1e9);
    }
  }
  std::vector<KernelEvent> events;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::optional<KernelEvent> e = ParseTraceLine(line);
    if (e.has_value() && (ports_.count(e->sport) != 0 || ports_.count(e->dport) != 0)) {
      e->monotonic_ns += offset_ns;
      events.push_back(*std::move(e));
    }
  }
  return events;
}

std::optional<KernelEvent> ParseTraceLine(absl::string_view line) {
  // "  socklab-123  [001] b..2.  1234.567890: inet_sock_set_state: family=AF_INET ..."
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "#")) {
    return std::nullopt;
  }
  static constexpr absl::string_view kNames[] = {"inet_sock_set_state", "tcp_send_reset",
                                                 "tcp_receive_reset", "tcp_retransmit_skb",
                                                 "tcp_retransmit_synack"};
  KernelEvent e;
  size_t at = absl::string_view::npos;
  for (absl::string_view name : kNames) {
    at = line.find(absl::StrCat(": ", name, ": "));
    if (at != absl::string_view::npos) {
      e.name = std::string(name);
      break;
    }
  }
  if (e.name.empty()) {
    return std::nullopt;
  }
  absl::string_view head = line.substr(0, at);
  absl::string_view stamp = head.substr(head.rfind(' ') + 1);
  double seconds = 0;
  // The trace clock counts from boot: a stamp that is negative, or past what int64 nanoseconds
  // hold (292 years), is no stamp of this machine's.
  if (!absl::SimpleAtod(stamp, &seconds) || !(seconds >= 0 && seconds < 9.2e9)) {
    return std::nullopt;
  }
  e.monotonic_ns = static_cast<int64_t>(seconds * 1e9);
  std::map<std::string, std::string> fields;
  for (absl::string_view kv :
       absl::StrSplit(line.substr(at + e.name.size() + 4), ' ', absl::SkipEmpty())) {
    size_t eq = kv.find('=');
    if (eq != absl::string_view::npos) {
      fields[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  auto get = [&](const char* key) { return fields.count(key) ? fields[key] : std::string(); };
  if (e.name == "tcp_send_reset") {
    e.src = get("src");
    e.dst = get("dest");
    e.sport = PortOf(e.src);
    e.dport = PortOf(e.dst);
    e.text = absl::StrCat("RST sent (reason ", get("reason"), ", state ",
                          get("state") == "UNKNOWN" ? "no socket" : StateName(get("state")), ")");
    return e;
  }
  // SimpleAtoi leaves its output unspecified on failure: a port that is missing, not a number or
  // beyond 65535 (a trace format this code does not know) reads as 0.
  uint32_t sport = 0, dport = 0;
  if (!absl::SimpleAtoi(get("sport"), &sport) || sport > 65535) {
    sport = 0;
  }
  if (!absl::SimpleAtoi(get("dport"), &dport) || dport > 65535) {
    dport = 0;
  }
  e.sport = static_cast<uint16_t>(sport);
  e.dport = static_cast<uint16_t>(dport);
  const bool v6 = get("family") == "AF_INET6";
  e.src = absl::StrCat(v6 ? absl::StrCat("[", get("saddrv6"), "]") : get("saddr"), ":", sport);
  e.dst = absl::StrCat(v6 ? absl::StrCat("[", get("daddrv6"), "]") : get("daddr"), ":", dport);
  if (e.name == "inet_sock_set_state") {
    if (get("protocol") != "IPPROTO_TCP") {
      return std::nullopt;
    }
    e.text = absl::StrCat(StateName(get("oldstate")), " -> ", StateName(get("newstate")));
  } else if (e.name == "tcp_receive_reset") {
    e.text = "RST received";
  } else if (e.name == "tcp_retransmit_skb") {
    e.text = absl::StrCat("retransmission (state ", StateName(get("state")), ")");
  } else {
    e.text = "SYN/ACK retransmission";
  }
  return e;
}

}  // namespace socklab
