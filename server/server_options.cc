#include "server/server_options.h"

#include <sched.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status.h"
#include "core/base/status_macros.h"
#include "core/base/units.h"
#include "server/server_flags.h"

namespace socklab::server {
namespace {

int CpusAvailable() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) {
      return n;
    }
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

absl::StatusOr<Linger> ParseLinger(absl::string_view text) {
  Linger linger;
  if (text == "off") {
    return linger;
  }
  if (text == "rst" || text == "reset") {
    linger.mode = Linger::Mode::kReset;
    return linger;
  }
  int seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    // Whole seconds, as SO_LINGER's l_linger is.
  } else if (absl::StatusOr<absl::Duration> d = ParseDuration(text); d.ok()) {
    seconds = static_cast<int>(absl::ToInt64Seconds(*d));
    if (*d != absl::Seconds(seconds)) {
      return UsageError(absl::StrCat("--linger ", text, " is not a whole number of seconds"),
                        "SO_LINGER counts whole seconds; use off, rst or e.g. 5");
    }
  } else {
    return UsageError(absl::StrCat("bad --linger value '", text, "'"),
                      "use off, rst (close sends RST) or SECONDS (e.g. 5)");
  }
  if (seconds < 0 || seconds > 3600) {
    return UsageError(absl::StrCat("--linger ", text, " is out of range"),
                      "use 0..3600 seconds, off or rst");
  }
  // {1, 0} is the abortive close: say rst, which is what the user gets.
  linger.mode = seconds == 0 ? Linger::Mode::kReset : Linger::Mode::kSeconds;
  linger.seconds = seconds;
  return linger;
}

namespace {

// One field of --keepalive: whole seconds, written as "30" or as a duration ("30s", "2m").
std::optional<int64_t> WholeSeconds(absl::string_view text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    return seconds;
  }
  absl::StatusOr<absl::Duration> d = ParseDuration(text);
  if (!d.ok() || *d != absl::Seconds(absl::ToInt64Seconds(*d))) {
    return std::nullopt;
  }
  return absl::ToInt64Seconds(*d);
}

}  // namespace

absl::StatusOr<std::optional<Keepalive>> ParseKeepalive(absl::string_view text) {
  if (text == "off") {
    return std::optional<Keepalive>();
  }
  constexpr char kForm[] = "use IDLE,INTVL,CNT, e.g. 30s,5s,3 (whole seconds), or off";
  std::vector<absl::string_view> parts = absl::StrSplit(text, ',');
  if (parts.size() != 3) {
    return UsageError(absl::StrCat("bad --keepalive value '", text, "'"), kForm);
  }
  std::optional<int64_t> idle = WholeSeconds(parts[0]);
  std::optional<int64_t> interval = WholeSeconds(parts[1]);
  int64_t count = 0;
  if (!idle.has_value() || !interval.has_value() || !absl::SimpleAtoi(parts[2], &count)) {
    return UsageError(absl::StrCat("bad --keepalive value '", text, "'"), kForm);
  }
  // The kernel's own limits (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
  if (*idle < 1 || *idle > 32767 || *interval < 1 || *interval > 32767 || count < 1 ||
      count > 127) {
    return UsageError(absl::StrCat("--keepalive ", text, " is out of range"),
                      "IDLE and INTVL take 1..32767 seconds, CNT 1..127");
  }
  return std::optional<Keepalive>(
      Keepalive{static_cast<int>(*idle), static_cast<int>(*interval), static_cast<int>(count)});
}

std::string KeepaliveToString(const std::optional<Keepalive>& keepalive) {
  if (!keepalive.has_value()) {
    return "off";
  }
  return absl::StrCat(keepalive->idle_s, "s,", keepalive->interval_s, "s,", keepalive->count);
}

std::string LingerToString(const Linger& linger) {
  switch (linger.mode) {
    case Linger::Mode::kOff:
      return "off";
    case Linger::Mode::kReset:
      return "rst";
    case Linger::Mode::kSeconds:
      return absl::StrCat(linger.seconds, "s");
  }
  return "off";
}

absl::Status ServerOptions::Validate() const {
  if (listen.family() != AF_INET && listen.family() != AF_INET6) {
    return UsageError("--listen has no address", "use e.g. 127.0.0.1:7007 or [::1]:7007");
  }
  // Each value flag's range, from its one declaration.
  for (const ServerFlag& flag : ServerFlagTable()) {
    SOCKLAB_RETURN_IF_ERROR(flag.CheckRange(*this));
  }
  if (idle_timeout < absl::ZeroDuration() || write_timeout < absl::ZeroDuration() ||
      drain_timeout < absl::ZeroDuration() || stats_interval < absl::ZeroDuration()) {
    return UsageError("a negative duration", "durations are like 500ms, 30s, 2m");
  }
  if (stats_interval > absl::ZeroDuration() && stats_interval < absl::Milliseconds(10)) {
    return UsageError("--stats-interval below 10ms", "use e.g. 1s; 0 turns the periodic lines off");
  }
  if (keepalive.has_value()) {
    // The ranges live in ParseKeepalive only.
    absl::StatusOr<std::optional<Keepalive>> same = ParseKeepalive(KeepaliveToString(keepalive));
    if (!same.ok()) {
      return same.status();
    }
  }
  if (!(faults.probability >= 0.0 && faults.probability <= 1.0)) {
    return UsageError("--fault-probability out of range", "use a share from 0 to 1");
  }
  if (linger.mode == Linger::Mode::kSeconds) {
    // The range lives in ParseLinger only. It reads 0 seconds as rst, which is what SO_LINGER
    // {1, 0} does, so a waiting linger of 0 seconds is no linger it would make.
    absl::StatusOr<Linger> same = ParseLinger(LingerToString(linger));
    if (!same.ok()) {
      return same.status();
    }
    if (same->mode != linger.mode) {
      return UsageError("--linger of 0 seconds", "use rst for an abortive close, or 1..3600");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ResolvedOptions> ValidateAndResolve(const ServerOptions& options,
                                                   const ProcFs& proc) {
  if (absl::Status valid = options.Validate(); !valid.ok()) {
    return valid;
  }
  ResolvedOptions out{options, {}};
  if (out.options.threads == 0) {
    out.options.threads = CpusAvailable();
  }
  absl::StatusOr<int64_t> somaxconn = proc.ReadSysctlInt("net.core.somaxconn");
  if (out.options.backlog == 0) {
    out.options.backlog = somaxconn.ok() ? *somaxconn : 4096;
  } else if (somaxconn.ok() && out.options.backlog > *somaxconn) {
    out.warnings.push_back(
        absl::StrCat("--backlog ", out.options.backlog, " is above net.core.somaxconn=", *somaxconn,
                     ": the kernel caps it at ", *somaxconn,
                     " (raise it with sysctl -w net.core.somaxconn=", out.options.backlog, ")"));
    out.options.backlog = *somaxconn;
  }
  return out;
}

}  // namespace socklab::server
