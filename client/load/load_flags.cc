#include "client/load/load_flags.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status.h"

namespace socklab::client {
namespace {

// Max values fit an int where the engine and the report take one.
const LoadFlag kLoadFlags[] = {
    {.names = "-c,--connections",
     .help = "Connections (default 10)",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::connections,
     .min = 1,
     .max = kMaxConnections,
     .range_fix = "use 1 to 1000000",
     .json_key = "connections",
     .config = &LoadConfig::connections},
    {.names = "-t,--threads",
     .help = "Event-loop threads (default: one per CPU, at most one per connection)",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::threads,
     .max = 1024,
     .range_fix = "use 0 (one per CPU) to 1024",
     .zero_problem = "is no thread count",
     .zero_fix = "omit -t for one thread per CPU, or give 1 or more",
     .json_key = "threads",
     .config = &LoadConfig::threads},
    {.names = "--pipeline",
     .help = "Messages in flight per connection (default 1)",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::pipeline,
     .min = 1,
     .max = 65536,
     .range_fix = "use 1 to 65536",
     .json_key = "pipeline",
     .config = &LoadConfig::pipeline,
     .line = ConfigLine::kLoad,
     .text_label = "pipeline"},
    {.names = "-R,--rate",
     .help = "Open loop: total messages/s on a schedule; latency from the scheduled time",
     .kind = ValueKind::kRate,
     .option = &LoadOptions::rate,
     .range_fix = "use a positive number of messages per second",
     .zero_problem = "is no rate",
     .zero_fix = "omit -R for a closed loop, or give messages/s above 0 (0.5, 10k)",
     .json_key = "rate",
     .config = &LoadConfig::rate},
    {.names = "--churn",
     .help = "Reconnect after every N messages (1: one connection per request)",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::churn,
     .zero_problem = "would never reconnect",
     .zero_fix = "omit --churn to keep each connection, or give 1 or more messages",
     .json_key = "churn",
     .config = &LoadConfig::churn},
    {.names = "--connect-rate",
     .help = "At most this many new connections/s",
     .kind = ValueKind::kRate,
     .option = &LoadOptions::connect_rate,
     .range_fix = "use a positive number of connections per second",
     .zero_problem = "would open no connection",
     .zero_fix = "omit --connect-rate for no cap, or give connections/s above 0",
     .json_key = "connect_rate",
     .config = &LoadConfig::connect_rate},
    {.names = "-d,--duration",
     .help = "Run time, warmup included (default 10s)",
     .kind = ValueKind::kDuration,
     .option = &LoadOptions::duration,
     .json_key = "duration_s",
     .config = &LoadConfig::duration_s},
    {.names = "-n,--messages",
     .help = "Total round trips, then stop (with -d: whichever comes first)",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::messages,
     .zero_problem = "sends nothing",
     .zero_fix = "omit -n to run for -d, or give 1 or more messages",
     .json_key = "messages",
     .config = &LoadConfig::messages},
    {.names = "--warmup",
     .help = "Leading time excluded from the results (default 0)",
     .kind = ValueKind::kDuration,
     .option = &LoadOptions::warmup,
     .json_key = "warmup_s",
     .config = &LoadConfig::warmup_s,
     .line = ConfigLine::kRun,
     .text_label = "warmup"},
    {.names = "--connect-timeout",
     .help = "Per connection attempt (default 2s)",
     .kind = ValueKind::kDuration,
     .option = &LoadOptions::connect_timeout,
     .json_key = "connect_timeout_s",
     .config = &LoadConfig::connect_timeout_s,
     .line = ConfigLine::kRun,
     .text_label = "connect timeout"},
    {.names = "--read-timeout",
     .help = "Per message round trip (default 5s)",
     .kind = ValueKind::kDuration,
     .option = &LoadOptions::read_timeout,
     .json_key = "read_timeout_s",
     .config = &LoadConfig::read_timeout_s,
     .line = ConfigLine::kRun,
     .text_label = "read timeout"},
    {.names = "--max-errors",
     .help = "Abort (exit 1) after more than N errors",
     .kind = ValueKind::kCount,
     .option = &LoadOptions::max_errors,
     .json_key = "max_errors",
     .config = &LoadConfig::max_errors,
     .line = ConfigLine::kRun,
     .text_label = "max errors",
     .text_omits_zero = true},
    {.names = "--min-rate-ratio",
     .help = "Open loop: exit 3 when less than this share of the schedule was sent (0 < R <= 1, "
             "e.g. 0.95)",
     .kind = ValueKind::kShare,
     .option = &LoadOptions::min_rate_ratio,
     .max = 1,
     .range_fix = "give the share of the schedule that must be sent, above 0 and at most 1, e.g. "
                  "0.95",
     .zero_problem = "checks nothing",
     .zero_fix = "omit it, or give the share of the schedule that must be sent, e.g. 0.95",
     .json_key = "min_rate_ratio",
     .config = &LoadConfig::min_rate_ratio,
     .line = ConfigLine::kRun,
     .text_label = "min rate ratio",
     .text_omits_zero = true},
};

}  // namespace

std::span<const LoadFlag> LoadFlagTable() { return kLoadFlags; }

absl::string_view LoadFlag::LongName() const {
  const absl::string_view all = names;
  return all.substr(all.rfind(',') + 1);
}

std::string LoadFlag::OptionText(const LoadOptions& options) const {
  struct Text {
    const LoadOptions& o;
    std::string operator()(uint64_t LoadOptions::*field) const { return absl::StrCat(o.*field); }
    std::string operator()(double LoadOptions::*field) const {
      return absl::StrFormat("%.10g", o.*field);
    }
    std::string operator()(absl::Duration LoadOptions::*field) const {
      return absl::FormatDuration(o.*field);
    }
  };
  return std::visit(Text{options}, option);
}

double LoadFlag::OptionValue(const LoadOptions& options) const {
  struct Value {
    const LoadOptions& o;
    double operator()(uint64_t LoadOptions::*field) const { return static_cast<double>(o.*field); }
    double operator()(double LoadOptions::*field) const { return o.*field; }
    double operator()(absl::Duration LoadOptions::*field) const {
      return absl::ToDoubleSeconds(o.*field);
    }
  };
  return std::visit(Value{options}, option);
}

absl::Status LoadFlag::CheckRange(const LoadOptions& options) const {
  if (*range_fix == '\0') {
    return absl::OkStatus();
  }
  const double value = OptionValue(options);
  // Written so that NaN is out of range too.
  if (value >= min && value <= max) {
    return absl::OkStatus();
  }
  return UsageError(absl::StrCat(LongName(), " ", OptionText(options), " is out of range"),
                    range_fix);
}

// The table pairs each option field with a config field of the same kind; a pair that does not
// is a bug (std::get throws, which ends the program), which LoadFlagsTest catches.
void LoadFlag::CopyToConfig(const LoadOptions& options, LoadConfig* c) const {
  if (const auto* duration = std::get_if<absl::Duration LoadOptions::*>(&option)) {
    c->*std::get<double LoadConfig::*>(config) = absl::ToDoubleSeconds(options.**duration);
  } else if (const auto* real = std::get_if<double LoadOptions::*>(&option)) {
    c->*std::get<double LoadConfig::*>(config) = options.**real;
  } else if (const auto* wide = std::get_if<uint64_t LoadConfig::*>(&config)) {
    c->*(*wide) = options.*std::get<uint64_t LoadOptions::*>(option);
  } else {
    // Validate() bounded the counts the report keeps as an int.
    c->*std::get<int LoadConfig::*>(config) =
        static_cast<int>(options.*std::get<uint64_t LoadOptions::*>(option));
  }
}

double LoadFlag::ConfigValue(const LoadConfig& c) const {
  return std::visit([&](auto field) { return static_cast<double>(c.*field); }, config);
}

std::string LoadFlag::ConfigText(const LoadConfig& c) const {
  if (kind == ValueKind::kDuration) {
    return absl::StrFormat("%gs", ConfigValue(c));
  }
  if (const auto* real = std::get_if<double LoadConfig::*>(&config)) {
    return absl::StrFormat("%.10g", c.**real);
  }
  return std::visit([&](auto field) { return absl::StrCat(c.*field); }, config);
}

}  // namespace socklab::client
