#pragma once

// socklab-server's value flags, each declared once: name and help, how the text is parsed, the
// ServerOptions field it fills, its range and the fix when out of it, its key in the "config"
// JSON and on the configuration line, and what the line calls 0. server/main.cc registers them,
// ServerOptions::Validate checks the ranges, and the configuration line and JSON are written, by
// loops over this table.
//
// Flags whose parse builds a structure or picks among words stay out of it, written by hand in
// server/main.cc: --listen, --backend, --linger, --keepalive, --fault (a list of specs, with
// --fault-probability and --fault-seed, parsed together into a FaultPlan), --metrics, and the
// switches (--no-reuseport, --reuseaddr, --nodelay, --json).
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
#include "nlohmann/json.hpp"
#include "server/server_options.h"

namespace socklab::server {

// How a flag's text is parsed (core/base/units, the same forms every socklab program takes): a
// count ("10k"), a byte size ("256k") or a duration ("500ms").
enum class ServerValueKind { kCount, kByteSize, kDuration };

// The ServerOptions field: 64-bit, so that Validate() sees what the user typed (a count above
// INT64_MAX is saturated, which every range refuses).
using ServerOptionField = std::variant<int64_t ServerOptions::*, uint64_t ServerOptions::*,
                                       absl::Duration ServerOptions::*>;

struct ServerFlag {
  const char* names;  // for CLI11: "-t,--threads"
  const char* help;
  ServerValueKind kind;
  ServerOptionField option;
  // Validate(): in [min, max], else "<--name> <value> is out of range; <range_fix>". No
  // range_fix: no range of its own (durations: Validate() checks their rules together).
  double min = 0;
  double max = std::numeric_limits<double>::infinity();
  const char* range_fix = "";
  const char* json_key;        // in the "config" JSON (a duration in seconds)
  const char* text_key;        // "<text_key>=<value>" on the configuration line
  const char* zero_text = "";  // what the line calls 0 ("default", "off"); empty: "0"

  // "--threads": the long name, as messages name the flag.
  absl::string_view LongName() const;
  // The value as a number (a duration in seconds).
  double Value(const ServerOptions& options) const;
  // The range check of Validate().
  absl::Status CheckRange(const ServerOptions& options) const;
  // As the configuration line states it: a count as a number, a byte size as FormatBytes does
  // ("256.0 KiB"), a duration as absl does ("5s"); 0 as zero_text when there is one.
  std::string LineText(const ServerOptions& options) const;
  // As the "config" JSON states it: the number, a duration in seconds.
  nlohmann::json JsonValue(const ServerOptions& options) const;
};

// Every table-driven flag of socklab-server, in --help and configuration line order.
std::span<const ServerFlag> ServerFlagTable();

}  // namespace socklab::server
