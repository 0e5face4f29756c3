#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/capture/tcp_segment.h"

struct pcap;
struct pcap_dumper;

namespace socklab {

// One captured frame, as libpcap gave it.
struct CapturedFrame {
  int64_t wall_ns = 0;           // CLOCK_REALTIME, nanosecond precision
  uint32_t original_length = 0;  // the frame's length on the wire
  std::string bytes;             // the first `snaplen` bytes of it
};

// A live packet capture (libpcap) on one interface of the calling thread's network namespace,
// narrowed to TCP segments to or from a set of ports that grows as the traffic's owner learns
// its ports (bind, connect): nothing else on the machine is kept. The kernel queues the frames
// in a ring from the moment of Open; Drain() copies them out without blocking. Needs root or
// CAP_NET_RAW (Open says so otherwise). Thread affinity: one thread at a time; owns the capture
// socket and the pcap file it writes.
class PacketCapture {
 public:
  // Bytes kept of each frame: every header (Ethernet 14, IP up to 60, TCP up to 60), little data.
  static constexpr int kSnapLength = 256;

  // The kernel's ring between two drains: about 3000 frames of kSnapLength bytes, far more than
  // a scenario sends.
  static constexpr int kDefaultBufferBytes = 1 << 20;

  // Opens `interface` ("lo", or "any" for every interface of the namespace) with a ring of
  // `buffer_bytes`. With no port watched yet, nothing is kept. PermissionDenied without capture
  // rights, with the reason and the fix.
  static absl::StatusOr<std::unique_ptr<PacketCapture>> Open(
      const std::string& interface, int buffer_bytes = kDefaultBufferBytes);
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  // From now on, also keep segments to or from `port` (either end). Segments already queued stay.
  absl::Status WatchPort(uint16_t port);
  const std::set<uint16_t>& ports() const { return ports_; }

  // Copies every frame the kernel queued so far into frames(); never blocks.
  absl::Status Drain();
  // For a capture read while it runs: drains, appends the frames to the pcap file if one was
  // created (flushed, so the file is whole up to here), and hands them over; frames() is empty
  // afterwards. Never blocks.
  absl::StatusOr<std::vector<CapturedFrame>> TakeFrames();
  const std::vector<CapturedFrame>& frames() const { return frames_; }
  // Frames the kernel dropped because the ring was full (pcap_stats).
  uint64_t dropped() const;
  int link_type() const { return link_type_; }

  // Creates `path` now (while this process may still write there: a caller may drop its
  // privileges later); WriteFile fills it.
  absl::Status CreateFile(const std::string& path);
  // Writes frames() (those not yet handed over by TakeFrames) to the file CreateFile made, as a
  // standard pcap (nanosecond timestamps), and closes it.
  absl::Status WriteFile();

 private:
  explicit PacketCapture(pcap* handle);
  absl::Status ApplyFilter();
  // Appends `frames` to the pcap file and flushes it.
  absl::Status DumpFrames(const std::vector<CapturedFrame>& frames);

  pcap* handle_;
  int link_type_;
  pcap_dumper* dumper_ = nullptr;
  std::string dump_path_;
  std::set<uint16_t> ports_;
  std::vector<CapturedFrame> frames_;
};

// The BPF filter text for segments to or from `ports`: "tcp and (port 80 or port 8080)"; one
// that matches nothing when `ports` is empty. Pure.
std::string PortFilter(const std::set<uint16_t>& ports);

// The TCP segments among `frames`, in capture order. Pure.
std::vector<TcpSegment> DecodeFrames(int link_type, const std::vector<CapturedFrame>& frames);

}  // namespace socklab
