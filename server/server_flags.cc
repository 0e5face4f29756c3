#include "server/server_flags.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/base/units.h"

namespace socklab::server {
namespace {

const ServerFlag kServerFlags[] = {
    {.names = "-t,--threads",
     .help = "event-loop threads (default: CPUs)",
     .kind = ServerValueKind::kCount,
     .option = &ServerOptions::threads,
     .max = kMaxThreads,
     .range_fix = "use 1..1024, or 0 for one per CPU",
     .json_key = "threads",
     .text_key = "threads"},
    {.names = "--backlog",
     .help = "listen backlog (default: net.core.somaxconn)",
     .kind = ServerValueKind::kCount,
     .option = &ServerOptions::backlog,
     .max = kMaxBacklog,
     .range_fix = "use a count up to 1G, or 0 for net.core.somaxconn",
     .json_key = "backlog",
     .text_key = "backlog"},
    {.names = "--rcvbuf",
     .help = "SO_RCVBUF for accepted sockets (e.g. 256k)",
     .kind = ServerValueKind::kByteSize,
     .option = &ServerOptions::rcvbuf,
     .max = kMaxSocketBuffer,
     .range_fix = "use 0 (kernel default) up to 1G",
     .json_key = "rcvbuf",
     .text_key = "rcvbuf",
     .zero_text = "default"},
    {.names = "--sndbuf",
     .help = "SO_SNDBUF for accepted sockets (e.g. 256k)",
     .kind = ServerValueKind::kByteSize,
     .option = &ServerOptions::sndbuf,
     .max = kMaxSocketBuffer,
     .range_fix = "use 0 (kernel default) up to 1G",
     .json_key = "sndbuf",
     .text_key = "sndbuf",
     .zero_text = "default"},
    {.names = "--idle-timeout",
     .help = "close connections with no bytes either way for this long (default off)",
     .kind = ServerValueKind::kDuration,
     .option = &ServerOptions::idle_timeout,
     .json_key = "idle_timeout_s",
     .text_key = "idle-timeout",
     .zero_text = "off"},
    {.names = "--write-timeout",
     .help = "close connections whose peer acknowledges no echo bytes for this long",
     .kind = ServerValueKind::kDuration,
     .option = &ServerOptions::write_timeout,
     .json_key = "write_timeout_s",
     .text_key = "write-timeout",
     .zero_text = "off"},
    {.names = "--max-connections",
     .help = "stop accepting at this many open connections (default unlimited)",
     .kind = ServerValueKind::kCount,
     .option = &ServerOptions::max_connections,
     .max = kMaxConnectionsLimit,
     .range_fix = "use 0 (unlimited) or a count such as 10k",
     .json_key = "max_connections",
     .text_key = "max-connections",
     .zero_text = "unlimited"},
    {.names = "--max-pending",
     .help = "echo bytes held per connection before reading pauses (default 256k, at most 1G)",
     .kind = ServerValueKind::kByteSize,
     .option = &ServerOptions::max_pending_bytes,
     .min = 1024,
     .max = kMaxPendingBytesLimit,
     .range_fix = "backpressure needs a cap memory can hold: use 1k up to 1G (default 256k)",
     .json_key = "max_pending_bytes",
     .text_key = "max-pending"},
    {.names = "--drain-timeout",
     .help = "on SIGINT/SIGTERM, how long open connections are still served (default 5s)",
     .kind = ServerValueKind::kDuration,
     .option = &ServerOptions::drain_timeout,
     .json_key = "drain_timeout_s",
     .text_key = "drain-timeout"},
    {.names = "--stats-interval",
     .help = "print a stats line on stderr this often (e.g. 1s; default off)",
     .kind = ServerValueKind::kDuration,
     .option = &ServerOptions::stats_interval,
     .json_key = "stats_interval_s",
     .text_key = "stats-interval",
     .zero_text = "off"},
};

// A count or byte size field's value as typed ("4096"). Only counts and byte sizes have ranges
// (ServerFlagsTest checks the table).
std::string CountText(const ServerOptions& options, const ServerOptionField& option) {
  if (const auto* wide = std::get_if<uint64_t ServerOptions::*>(&option)) {
    return absl::StrCat(options.**wide);
  }
  return absl::StrCat(options.*std::get<int64_t ServerOptions::*>(option));
}

}  // namespace

std::span<const ServerFlag> ServerFlagTable() { return kServerFlags; }

absl::string_view ServerFlag::LongName() const {
  const absl::string_view all = names;
  return all.substr(all.rfind(',') + 1);
}

double ServerFlag::Value(const ServerOptions& options) const {
  struct Number {
    const ServerOptions& o;
    double operator()(int64_t ServerOptions::*field) const { return static_cast<double>(o.*field); }
    double operator()(uint64_t ServerOptions::*field) const {
      return static_cast<double>(o.*field);
    }
    double operator()(absl::Duration ServerOptions::*field) const {
      return absl::ToDoubleSeconds(o.*field);
    }
  };
  return std::visit(Number{options}, option);
}

absl::Status ServerFlag::CheckRange(const ServerOptions& options) const {
  if (*range_fix == '\0') {
    return absl::OkStatus();
  }
  const double value = Value(options);
  if (value >= min && value <= max) {
    return absl::OkStatus();
  }
  return UsageError(absl::StrCat(LongName(), " ", CountText(options, option), " is out of range"),
                    range_fix);
}

std::string ServerFlag::LineText(const ServerOptions& options) const {
  if (*zero_text != '\0' && Value(options) == 0) {
    return zero_text;
  }
  switch (kind) {
    case ServerValueKind::kCount:
      return CountText(options, option);
    case ServerValueKind::kByteSize:
      return FormatBytes(Value(options));
    case ServerValueKind::kDuration:
      return absl::FormatDuration(options.*std::get<absl::Duration ServerOptions::*>(option));
  }
  return "";
}

nlohmann::json ServerFlag::JsonValue(const ServerOptions& options) const {
  return std::visit(
      [&](auto field) -> nlohmann::json {
        if constexpr (std::is_same_v<decltype(field), absl::Duration ServerOptions::*>) {
          return absl::ToDoubleSeconds(options.*field);
        } else {
          return options.*field;
        }
      },
      option);
}

}  // namespace socklab::server
