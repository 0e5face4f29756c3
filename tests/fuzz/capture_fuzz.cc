// What repro's packet captures and kernel traces decode: any frame libpcap hands over (of the
// three link types socklab opens) and any line of a tracefs `trace` file decode to a segment or
// event, or to nothing, never reading past what was captured.
#include <pcap/dlt.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "core/capture/kernel_events.h"
#include "core/capture/tcp_segment.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  // The first byte picks the link type; the rest is the frame, in a copy of its exact size.
  constexpr int kLinkTypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_RAW};
  const int link_type = kLinkTypes[data[0] % std::size(kLinkTypes)];
  std::vector<uint8_t> frame(data + 1, data + size);
  std::optional<socklab::TcpSegment> segment =
      socklab::ParseTcpFrame(link_type, frame.data(), frame.size(), frame.size() + 100);
  if (segment.has_value()) {
    socklab::TcpFlagsText(segment->flags);
  }

  for (absl::string_view line : socklab::fuzz::Pieces(data + 1, size - 1)) {
    socklab::ParseTraceLine(line);
  }
  return 0;
}
