#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace socklab::client {

// What `socklab trace` was asked to do, filled from the flags by trace_command.cc or by tests.
// Plain data; thread affinity: none.
struct TraceOptions {
  uint16_t port = 0;                               // required: 1 to 65535
  absl::Duration duration = absl::ZeroDuration();  // zero: until Ctrl-C (SIGINT) or SIGTERM
  bool duration_given = false;                     // -d was on the command line
  std::string pcap;                                // --pcap FILE; "" for none
  bool json = false;                               // JSON lines instead of text
  std::string netns;  // --netns NAME: a namespace `ip netns` made (/run/netns/NAME)
  // Every interface of the namespace: lo for local clients, the others for remote ones.
  std::string interface = "any";

  // A UsageError naming the problem and the fix: no port, a zero duration, a pcap file in a
  // directory that does not exist, a namespace `ip netns` does not know.
  absl::Status Validate() const;
};

// Where `ip netns` keeps the namespace named `name`.
std::string NetnsPath(const std::string& name);

}  // namespace socklab::client
