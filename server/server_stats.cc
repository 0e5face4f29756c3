#include "server/server_stats.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/units.h"
#include "nlohmann/json.hpp"

namespace socklab::server {

void StatsSnapshot::Add(const StatsSnapshot& other) {
  open += other.open;
  accepted += other.accepted;
  closed += other.closed;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  accept_pauses_limit += other.accept_pauses_limit;
  accept_pauses_no_fds += other.accept_pauses_no_fds;
  parked_over_limit += other.parked_over_limit;
  backpressure_pauses += other.backpressure_pauses;
  idle_timeouts += other.idle_timeouts;
  write_timeouts += other.write_timeouts;
  drain_cut += other.drain_cut;
  drain_unechoed_bytes += other.drain_unechoed_bytes;
  fault_resets += other.fault_resets;
  fault_closes += other.fault_closes;
  fault_half_closes += other.fault_half_closes;
  fault_stopped_reading += other.fault_stopped_reading;
  fault_blackholes += other.fault_blackholes;
  fault_paced += other.fault_paced;
  fault_listener_closes += other.fault_listener_closes;
  fault_refused_late += other.fault_refused_late;
  errors.Merge(other.errors);
}

void WorkerStats::RecordErrno(Phase phase, int err, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(errors_mu_);
  errors_.RecordErrno(phase, err, now_ns);
}

void WorkerStats::RecordClass(Phase phase, ErrorClass error_class, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(errors_mu_);
  errors_.RecordClass(phase, error_class, now_ns);
}

StatsSnapshot WorkerStats::Snapshot() const {
  StatsSnapshot s;
  s.open = open_.load(kRelaxed);
  s.accepted = accepted_.load(kRelaxed);
  s.closed = closed_.load(kRelaxed);
  s.bytes_in = bytes_in_.load(kRelaxed);
  s.bytes_out = bytes_out_.load(kRelaxed);
  s.accept_pauses_limit = accept_pauses_limit_.load(kRelaxed);
  s.accept_pauses_no_fds = accept_pauses_no_fds_.load(kRelaxed);
  s.parked_over_limit = parked_over_limit_.load(kRelaxed);
  s.backpressure_pauses = backpressure_pauses_.load(kRelaxed);
  s.idle_timeouts = idle_timeouts_.load(kRelaxed);
  s.write_timeouts = write_timeouts_.load(kRelaxed);
  s.drain_cut = drain_cut_.load(kRelaxed);
  s.drain_unechoed_bytes = drain_unechoed_bytes_.load(kRelaxed);
  s.fault_resets = fault_resets_.load(kRelaxed);
  s.fault_closes = fault_closes_.load(kRelaxed);
  s.fault_half_closes = fault_half_closes_.load(kRelaxed);
  s.fault_stopped_reading = fault_stopped_reading_.load(kRelaxed);
  s.fault_blackholes = fault_blackholes_.load(kRelaxed);
  s.fault_paced = fault_paced_.load(kRelaxed);
  s.fault_listener_closes = fault_listener_closes_.load(kRelaxed);
  s.fault_refused_late = fault_refused_late_.load(kRelaxed);
  std::lock_guard<std::mutex> lock(errors_mu_);
  s.errors = errors_;
  return s;
}

std::string IntervalLine(const StatsSnapshot& now, const StatsSnapshot& before, double seconds) {
  if (seconds <= 0) {
    seconds = 1;
  }
  std::string line = absl::StrCat(
      "open=", now.open, " accepted=+", now.accepted - before.accepted, " closed=+",
      now.closed - before.closed, " in=", FormatBytes((now.bytes_in - before.bytes_in) / seconds),
      "/s out=", FormatBytes((now.bytes_out - before.bytes_out) / seconds), "/s");
  uint64_t pauses = (now.accept_pauses_limit + now.accept_pauses_no_fds) -
                    (before.accept_pauses_limit + before.accept_pauses_no_fds);
  if (pauses > 0) {
    absl::StrAppend(&line, " accept_pauses=+", pauses);
  }
  uint64_t timeouts =
      (now.idle_timeouts + now.write_timeouts) - (before.idle_timeouts + before.write_timeouts);
  if (timeouts > 0) {
    absl::StrAppend(&line, " timeouts=+", timeouts);
  }
  if (uint64_t faults = now.faults() - before.faults(); faults > 0) {
    std::string modes;
    auto mode = [&](const char* name, uint64_t n, uint64_t was) {
      if (n > was) {
        absl::StrAppend(&modes, modes.empty() ? "" : ", ", name, " +", n - was);
      }
    };
    mode("reset", now.fault_resets, before.fault_resets);
    mode("close", now.fault_closes, before.fault_closes);
    mode("half_close", now.fault_half_closes, before.fault_half_closes);
    mode("stop_reading", now.fault_stopped_reading, before.fault_stopped_reading);
    mode("blackhole", now.fault_blackholes, before.fault_blackholes);
    mode("paced", now.fault_paced, before.fault_paced);
    mode("listener_closed", now.fault_listener_closes, before.fault_listener_closes);
    mode("refused_late", now.fault_refused_late, before.fault_refused_late);
    absl::StrAppend(&line, " faults=+", faults, " (", modes, ")");
  }
  // Errors in this interval too, like every other field but the open gauge: the summary has
  // the totals.
  uint64_t errors = 0;
  std::string cells;
  now.errors.ForEach(
      [&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno, int64_t) {
        uint64_t delta = count - before.errors.count(phase, error_class);
        if (delta == 0) {
          return;
        }
        errors += delta;
        absl::StrAppend(&cells, cells.empty() ? "" : ", ", PhaseName(phase), " ",
                        ErrorCellLabel(error_class, first_errno), " +", delta);
      });
  absl::StrAppend(&line, " errors=+", errors);
  if (errors > 0) {
    absl::StrAppend(&line, " (", cells, ")");
  }
  return line;
}

std::string SummaryText(const StatsSnapshot& s) {
  std::string errors = s.errors.ToText();
  return absl::StrCat(
      "  connections: accepted ", s.accepted, ", closed ", s.closed, ", open ", s.open, "\n",
      "  bytes: in ", FormatBytes(static_cast<double>(s.bytes_in)), " (", s.bytes_in, "), out ",
      FormatBytes(static_cast<double>(s.bytes_out)), " (", s.bytes_out, ")\n",
      "  accept pauses: ", s.accept_pauses_limit, " at --max-connections, ", s.accept_pauses_no_fds,
      " out of fds; ", s.parked_over_limit, " parked over the limit\n",
      "  backpressure pauses: ", s.backpressure_pauses, "; timeouts: idle ", s.idle_timeouts,
      ", write ", s.write_timeouts, "\n", "  drain: ", s.drain_cut,
      " connections cut at the deadline, ",
      FormatBytes(static_cast<double>(s.drain_unechoed_bytes)), " (", s.drain_unechoed_bytes,
      ") unechoed\n", "  faults: reset ", s.fault_resets, ", close ", s.fault_closes,
      ", half close ", s.fault_half_closes, ", stop reading ", s.fault_stopped_reading,
      ", blackhole ", s.fault_blackholes, ", paced ", s.fault_paced, ", listener closed ",
      s.fault_listener_closes, ", refused late ", s.fault_refused_late, "\n",
      "  errors: ", errors.empty() ? "none" : errors, "\n");
}

nlohmann::json SummaryJson(const StatsSnapshot& s) {
  nlohmann::json j;
  j["accepted"] = s.accepted;
  j["closed"] = s.closed;
  j["open"] = s.open;
  j["bytes_in"] = s.bytes_in;
  j["bytes_out"] = s.bytes_out;
  j["accept_pauses"] = {{"max_connections", s.accept_pauses_limit},
                        {"no_fds", s.accept_pauses_no_fds}};
  j["parked_over_limit"] = s.parked_over_limit;
  j["backpressure_pauses"] = s.backpressure_pauses;
  j["timeouts"] = {{"idle", s.idle_timeouts}, {"write", s.write_timeouts}};
  j["drain"] = {{"cut", s.drain_cut}, {"unechoed_bytes", s.drain_unechoed_bytes}};
  j["faults"] = {{"reset", s.fault_resets},
                 {"close", s.fault_closes},
                 {"half_close", s.fault_half_closes},
                 {"stop_reading", s.fault_stopped_reading},
                 {"blackhole", s.fault_blackholes},
                 {"paced", s.fault_paced},
                 {"listener_closed", s.fault_listener_closes},
                 {"refused_late", s.fault_refused_late}};
  j["errors"] = s.errors.ToJson();
  return j;
}

}  // namespace socklab::server
