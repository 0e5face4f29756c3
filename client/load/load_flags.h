#pragma once

// `socklab load`'s value flags, each declared once: its name and help, where the parse stores it
// (a LoadOptions field whose type picks the parser), its range and the fix when out of it, what a
// 0 given on purpose would mean, its key in the report's JSON "config" and how the text report
// states it. The CLI registration (load_command.cc), LoadOptions::Validate, the report's config
// (load_engine.cc) and its text and JSON (load_report.cc) are loops over this table.
//
// Flags whose parse builds a structure or picks among words stay out of it, written by hand in
// load_command.cc: the target, --backend, --close, --size (MIN-MAX, two fields), --bind and
// --source-ips (address lists), --nagle, -4/-6, --shard, --start-at, --run-id, --sweep,
// --metrics, and the front end's own: --repeat, the output paths and the switches.
//
// Thread affinity: none; the table is a constant.

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/load/load_options.h"
#include "client/load/load_result.h"

namespace socklab::client {

// How a flag's text is parsed (the parsers of core/cli/flags.h, over core/base/units): a count
// ("10k"), a rate ("0.5", "1.5k"), a share ("0.95") or a duration ("500ms").
enum class ValueKind { kCount, kRate, kShare, kDuration };

// Where a flag's value lives in LoadOptions: a uint64_t for a count, a double for a rate or a
// share, an absl::Duration for a duration. Fields are wide so that Validate() sees what the user
// typed.
using LoadOptionField =
    std::variant<uint64_t LoadOptions::*, double LoadOptions::*, absl::Duration LoadOptions::*>;

// Where the report states it: a LoadConfig field (a duration as seconds).
using LoadConfigField =
    std::variant<int LoadConfig::*, uint64_t LoadConfig::*, double LoadConfig::*>;

// The line of the text report's configuration block an entry is stated on as "<label> <value>";
// kProse: the block's own words state it ("10 connections on 2 threads, open loop at 500 msg/s").
enum class ConfigLine { kProse, kLoad, kRun };

struct LoadFlag {
  const char* names;  // for CLI11: "-c,--connections"
  const char* help;
  ValueKind kind;
  LoadOptionField option;
  // Validate(): in [min, max], else "<--name> <value> is out of range; <range_fix>". No
  // range_fix: no range of its own (durations are checked together, as the run's shape).
  double min = 0;
  double max = std::numeric_limits<double>::infinity();
  const char* range_fix = "";
  // A 0 given on the command line that means nothing (0 is only the default, "not set"):
  // "<--name> 0 <zero_problem>; <zero_fix>". Empty: 0 is a value like any other.
  const char* zero_problem = "";
  const char* zero_fix = "";
  const char* json_key;  // in the report's "config"
  LoadConfigField config;
  ConfigLine line = ConfigLine::kProse;
  const char* text_label = "";   // "<label> <value>" on `line`
  bool text_omits_zero = false;  // 0 means "none": the text leaves it out

  // "--connections": the long name, as messages name the flag.
  absl::string_view LongName() const;
  // The value in `options` as a number (a duration in seconds), and as the user would write it
  // ("10", "0.5", "2s").
  double OptionValue(const LoadOptions& options) const;
  std::string OptionText(const LoadOptions& options) const;
  // The range check of Validate().
  absl::Status CheckRange(const LoadOptions& options) const;
  // Copies the value of `options` into `config` (a duration as seconds).
  void CopyToConfig(const LoadOptions& options, LoadConfig* config) const;
  // The value in `config`: as the text report writes it ("2s", "0.5", "10"), and as a number.
  std::string ConfigText(const LoadConfig& config) const;
  double ConfigValue(const LoadConfig& config) const;
};

// Every table-driven flag of `socklab load`, in --help order.
std::span<const LoadFlag> LoadFlagTable();

}  // namespace socklab::client
