#include "server/fault.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/status.h"
#include "core/base/units.h"

namespace socklab::server {
namespace {

constexpr char kForms[] =
    "use reset-after=N, close-after=N, half-close-after=N, stop-reading-after=N (N bytes like 4k, "
    "or a duration like 2s), delay=D[:JITTER], rate=BYTES/s, slice=N[:D], blackhole, no-accept "
    "or refuse-after=COUNT";

// "4k" (bytes received) or "2s" (time since accept).
absl::StatusOr<FaultTrigger> ParseTrigger(absl::string_view spec, absl::string_view value) {
  FaultTrigger trigger;
  if (absl::StatusOr<uint64_t> bytes = ParseByteSize(value); bytes.ok()) {
    trigger.bytes = *bytes;
    return trigger;
  }
  absl::StatusOr<absl::Duration> time = ParseDuration(value);
  if (!time.ok() || *time < absl::ZeroDuration()) {
    return UsageError(absl::StrCat("bad --fault value '", spec, "'"),
                      "N is bytes (4096, 4k, 1M) or a duration (500ms, 2s)");
  }
  trigger.time = *time;
  return trigger;
}

std::string TriggerToString(const FaultTrigger& trigger) {
  if (trigger.bytes.has_value()) {
    return FormatBytes(static_cast<double>(*trigger.bytes));
  }
  return absl::FormatDuration(trigger.time.value_or(absl::ZeroDuration()));
}

}  // namespace

absl::StatusOr<FaultPlan> ParseFaultPlan(const std::vector<std::string>& specs, double probability,
                                         uint64_t seed) {
  FaultPlan plan;
  for (const std::string& spec : specs) {
    absl::string_view name = spec;
    absl::string_view value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != absl::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto twice = [&]() {
      return UsageError(absl::StrCat("--fault ", name, " given twice"),
                        "give each fault mode once");
    };
    std::optional<FaultTrigger>* trigger_slot = nullptr;
    if (name == "reset-after") {
      trigger_slot = &plan.reset_after;
    } else if (name == "close-after") {
      trigger_slot = &plan.close_after;
    } else if (name == "half-close-after") {
      trigger_slot = &plan.half_close_after;
    } else if (name == "stop-reading-after") {
      trigger_slot = &plan.stop_reading_after;
    }
    if (trigger_slot != nullptr) {
      std::optional<FaultTrigger>& slot = *trigger_slot;
      if (!has_value) {
        return UsageError(absl::StrCat("--fault ", name, " needs a value"),
                          absl::StrCat("use ", name, "=N, N bytes (4k) or a duration (2s)"));
      }
      if (slot.has_value()) {
        return twice();
      }
      absl::StatusOr<FaultTrigger> trigger = ParseTrigger(spec, value);
      if (!trigger.ok()) {
        return trigger.status();
      }
      slot = *trigger;
    } else if (name == "delay") {
      if (plan.delay.has_value()) {
        return twice();
      }
      std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits(':', 1));
      absl::StatusOr<absl::Duration> delay = ParseDuration(parts.first);
      absl::StatusOr<absl::Duration> jitter =
          parts.second.empty() ? absl::ZeroDuration() : ParseDuration(parts.second);
      if (!has_value || !delay.ok() || !jitter.ok() || *delay < absl::ZeroDuration() ||
          *jitter < absl::ZeroDuration()) {
        return UsageError(absl::StrCat("bad --fault value '", spec, "'"),
                          "use delay=D or delay=D:JITTER with durations, e.g. delay=200ms:50ms");
      }
      plan.delay = *delay;
      plan.jitter = *jitter;
    } else if (name == "rate") {
      if (plan.rate > 0) {
        return twice();
      }
      absl::StatusOr<uint64_t> rate = ParseByteSize(absl::StripSuffix(value, "/s"));
      if (!has_value || !rate.ok() || *rate == 0) {
        return UsageError(absl::StrCat("bad --fault value '", spec, "'"),
                          "use rate=BYTES/s above 0, e.g. rate=64k/s");
      }
      plan.rate = *rate;
    } else if (name == "slice") {
      if (plan.slice_bytes > 0) {
        return twice();
      }
      std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits(':', 1));
      absl::StatusOr<uint64_t> bytes = ParseByteSize(parts.first);
      absl::StatusOr<absl::Duration> gap =
          parts.second.empty() ? absl::ZeroDuration() : ParseDuration(parts.second);
      if (!has_value || !bytes.ok() || *bytes == 0 || !gap.ok() || *gap < absl::ZeroDuration()) {
        return UsageError(absl::StrCat("bad --fault value '", spec, "'"),
                          "use slice=N or slice=N:D, N bytes above 0 and D a duration, e.g. "
                          "slice=10:50ms");
      }
      plan.slice_bytes = *bytes;
      plan.slice_gap = *gap;
    } else if ((name == "blackhole" || name == "no-accept") && !has_value) {
      bool& flag = name == "blackhole" ? plan.blackhole : plan.no_accept;
      if (flag) {
        return twice();
      }
      flag = true;
    } else if (name == "refuse-after") {
      if (plan.refuse_after.has_value()) {
        return twice();
      }
      absl::StatusOr<uint64_t> count = ParseCount(value);
      if (!has_value || !count.ok()) {
        return UsageError(absl::StrCat("bad --fault value '", spec, "'"),
                          "use refuse-after=COUNT, the connections accepted before the listener "
                          "closes (e.g. refuse-after=10)");
      }
      plan.refuse_after = *count;
    } else {
      return UsageError(absl::StrCat("unknown --fault '", spec, "'"), kForms);
    }
  }
  if (!(probability >= 0.0 && probability <= 1.0)) {
    return UsageError(absl::StrCat("--fault-probability ", probability, " is out of range"),
                      "use a share from 0 to 1 (e.g. 0.3: three connections in ten)");
  }
  if (probability != 1.0 && !plan.per_connection()) {
    return UsageError("--fault-probability without a per-connection fault",
                      "it picks connections for reset-after, close-after and blackhole");
  }
  if (plan.no_accept && plan.refuse_after.has_value()) {
    return UsageError("--fault no-accept and refuse-after together",
                      "no-accept never accepts, so nothing is counted for refuse-after: pick one");
  }
  plan.probability = probability;
  plan.seed = seed;
  return plan;
}

std::string FaultPlanToString(const FaultPlan& plan) {
  if (!plan.any()) {
    return "none";
  }
  std::vector<std::string> modes;
  if (plan.reset_after.has_value()) {
    modes.push_back("reset-after=" + TriggerToString(*plan.reset_after));
  }
  if (plan.close_after.has_value()) {
    modes.push_back("close-after=" + TriggerToString(*plan.close_after));
  }
  if (plan.half_close_after.has_value()) {
    modes.push_back("half-close-after=" + TriggerToString(*plan.half_close_after));
  }
  if (plan.stop_reading_after.has_value()) {
    modes.push_back("stop-reading-after=" + TriggerToString(*plan.stop_reading_after));
  }
  if (plan.delay.has_value()) {
    std::string delay = "delay=" + absl::FormatDuration(*plan.delay);
    if (plan.jitter > absl::ZeroDuration()) {
      absl::StrAppend(&delay, ":", absl::FormatDuration(plan.jitter));
    }
    modes.push_back(delay);
  }
  if (plan.rate > 0) {
    modes.push_back("rate=" + FormatBytes(static_cast<double>(plan.rate)) + "/s");
  }
  if (plan.slice_bytes > 0) {
    std::string slice = absl::StrCat("slice=", plan.slice_bytes);
    if (plan.slice_gap > absl::ZeroDuration()) {
      absl::StrAppend(&slice, ":", absl::FormatDuration(plan.slice_gap));
    }
    modes.push_back(slice);
  }
  if (plan.blackhole) {
    modes.push_back("blackhole");
  }
  if (plan.no_accept) {
    modes.push_back("no-accept");
  }
  if (plan.refuse_after.has_value()) {
    modes.push_back(absl::StrCat("refuse-after=", *plan.refuse_after));
  }
  std::string text = absl::StrJoin(modes, ",");
  if (plan.per_connection()) {
    absl::StrAppend(&text, " probability=", plan.probability);
    if (plan.seed != 0) {
      absl::StrAppend(&text, " seed=", plan.seed);
    }
  }
  return text;
}

FaultDice::FaultDice(const FaultPlan& plan, int worker_index)
    : probability_(plan.probability),
      generator_(plan.seed != 0 ? plan.seed + static_cast<uint64_t>(worker_index)
                                : std::random_device{}()) {}

int64_t FaultDice::JitterNs(int64_t max_ns) {
  if (max_ns <= 0) {
    return 0;
  }
  return std::uniform_int_distribution<int64_t>(0, max_ns)(generator_);
}

bool FaultDice::Roll() {
  if (probability_ >= 1.0) {
    return true;
  }
  if (probability_ <= 0.0) {
    return false;
  }
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator_) < probability_;
}

}  // namespace socklab::server
