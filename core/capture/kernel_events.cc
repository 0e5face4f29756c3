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

// CLOCK_MONOTONIC minus the trace clock, from the marker line in `text` ("... 1234.567890:
// tracing_mark_write: socklab-sync") written at `marker_monotonic_ns`; nullopt without it.
std::optional<int64_t> MarkerOffset(absl::string_view text, int64_t marker_monotonic_ns) {
  size_t at = text.find(kSyncMarker);
  if (at == absl::string_view::npos) {
    return std::nullopt;
  }
  const size_t line_start = text.rfind('\n', at) + 1;  // npos + 1 == 0
  absl::string_view head = text.substr(line_start, at - line_start);
  head = head.substr(0, head.find(": tracing_mark_write"));
  double trace_seconds = 0;
  if (!absl::SimpleAtod(head.substr(head.rfind(' ') + 1), &trace_seconds)) {
    return std::nullopt;
  }
  return marker_monotonic_ns - static_cast<int64_t>(trace_seconds * 1e9);
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
  for (int* fd : {&trace_fd_, &pipe_fd_}) {
    if (*fd >= 0) {
      close(*fd);  // an open file keeps the instance busy
      *fd = -1;
    }
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
  const int64_t offset_ns = MarkerOffset(text, marker_monotonic_ns_).value_or(0);
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

absl::StatusOr<std::vector<KernelEvent>> KernelEventTrace::TakeNew() {
  if (pipe_fd_ < 0) {
    pipe_fd_ = open(absl::StrCat(dir_, "/trace_pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (pipe_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open ", dir_, "/trace_pipe: ", DescribeErrno(errno)));
    }
  }
  std::string text = std::move(partial_line_);
  partial_line_.clear();
  char buf[65536];
  while (true) {
    const ssize_t n = read(pipe_fd_, buf, sizeof(buf));
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno != EAGAIN) {
      return absl::InternalError(
          absl::StrCat("reading ", dir_, "/trace_pipe: ", DescribeErrno(errno)));
    }
    break;
  }
  // Keep a line the read cut in two for the next call.
  const size_t last_newline = text.rfind('\n');
  partial_line_ = text.substr(last_newline == std::string::npos ? 0 : last_newline + 1);
  text.resize(last_newline == std::string::npos ? 0 : last_newline + 1);
  if (!pipe_offset_ns_.has_value()) {
    pipe_offset_ns_ = MarkerOffset(text, marker_monotonic_ns_);
  }
  std::vector<KernelEvent> events;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::optional<KernelEvent> e = ParseTraceLine(line);
    if (e.has_value() && (ports_.count(e->sport) != 0 || ports_.count(e->dport) != 0)) {
      e->monotonic_ns += pipe_offset_ns_.value_or(0);
      events.push_back(*std::move(e));
    }
  }
  return events;
}

uint64_t KernelEventTrace::Overruns() const {
  uint64_t total = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    std::ifstream stats(absl::StrCat(dir_, "/per_cpu/cpu", cpu, "/stats"));
    if (!stats) {
      break;
    }
    std::string line;
    while (std::getline(stats, line)) {
      absl::string_view field = line;
      uint64_t n = 0;
      if (absl::ConsumePrefix(&field, "overrun: ") && absl::SimpleAtoi(field, &n)) {
        total += n;
      }
    }
  }
  return total;
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
    e.reason = get("reason");
    e.state = get("state") == "UNKNOWN" ? "" : StateName(get("state"));
    e.text = absl::StrCat("RST sent (reason ", e.reason, ", state ",
                          e.state.empty() ? "no socket" : e.state, ")");
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
  // A dual-stack socket's IPv4 peer is an IPv4-mapped address (::ffff:127.0.0.1); on the wire
  // the segments carry plain IPv4, so the event names the addresses as they do.
  auto address = [&](const char* v4, const char* v6_key) {
    if (!v6) {
      return get(v4);
    }
    const std::string text = get(v6_key);
    absl::string_view a = text;
    if (absl::ConsumePrefix(&a, "::ffff:") && a.find('.') != absl::string_view::npos) {
      return std::string(a);
    }
    return absl::StrCat("[", text, "]");
  };
  e.src = absl::StrCat(address("saddr", "saddrv6"), ":", sport);
  e.dst = absl::StrCat(address("daddr", "daddrv6"), ":", dport);
  if (e.name == "inet_sock_set_state") {
    if (get("protocol") != "IPPROTO_TCP") {
      return std::nullopt;
    }
    e.old_state = StateName(get("oldstate"));
    e.new_state = StateName(get("newstate"));
    e.text = absl::StrCat(e.old_state, " -> ", e.new_state);
  } else if (e.name == "tcp_receive_reset") {
    e.text = "RST received";
  } else if (e.name == "tcp_retransmit_skb") {
    e.state = StateName(get("state"));
    e.text = absl::StrCat("retransmission (state ", e.state, ")");
  } else {
    e.text = "SYN/ACK retransmission";
  }
  return e;
}

}  // namespace socklab
