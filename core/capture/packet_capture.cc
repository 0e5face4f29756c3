#include "core/capture/packet_capture.h"

#include <pcap/pcap.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace socklab {
namespace {

absl::Status PcapError(pcap* handle, absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", pcap_geterr(handle)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PacketCapture>> PacketCapture::Open(const std::string& interface,
                                                                   int buffer_bytes) {
  char error[PCAP_ERRBUF_SIZE] = {};
  pcap* handle = pcap_create(interface.c_str(), error);
  if (handle == nullptr) {
    return absl::InternalError(absl::StrCat("pcap_create(", interface, "): ", error));
  }
  std::unique_ptr<PacketCapture> capture(new PacketCapture(handle));
  pcap_set_snaplen(handle, kSnapLength);
  pcap_set_buffer_size(handle, buffer_bytes);
  // Without immediate mode the kernel hands frames over only when a block of the ring fills or
  // its timeout passes, so Drain() could miss the last ones.
  pcap_set_immediate_mode(handle, 1);
  pcap_set_tstamp_precision(handle, PCAP_TSTAMP_PRECISION_NANO);
  const int activated = pcap_activate(handle);
  if (activated == PCAP_ERROR_PERM_DENIED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "capturing packets on ", interface, " needs root or CAP_NET_RAW (", pcap_geterr(handle),
        "); run as root, or grant it: setcap cap_net_raw+ep build/bin/socklab"));
  }
  if (activated < 0) {
    return PcapError(handle, absl::StrCat("pcap_activate(", interface, ")"));
  }
  capture->link_type_ = pcap_datalink(handle);
  if (pcap_setnonblock(handle, 1, error) != 0) {
    return absl::InternalError(absl::StrCat("pcap_setnonblock: ", error));
  }
  if (absl::Status filtered = capture->ApplyFilter(); !filtered.ok()) {
    return filtered;
  }
  return capture;
}

PacketCapture::PacketCapture(pcap* handle) : handle_(handle), link_type_(0) {}

PacketCapture::~PacketCapture() {
  if (dumper_ != nullptr) {
    pcap_dump_close(dumper_);
  }
  pcap_close(handle_);
}

std::string PortFilter(const std::set<uint16_t>& ports) {
  if (ports.empty()) {
    return "less 1";  // no frame is shorter than one byte
  }
  std::vector<std::string> each;
  for (uint16_t port : ports) {
    each.push_back(absl::StrCat("port ", port));
  }
  return absl::StrCat("tcp and (", absl::StrJoin(each, " or "), ")");
}

absl::Status PacketCapture::WatchPort(uint16_t port) {
  if (port == 0 || !ports_.insert(port).second) {
    return absl::OkStatus();
  }
  return ApplyFilter();
}

absl::Status PacketCapture::ApplyFilter() {
  bpf_program program{};
  const std::string text = PortFilter(ports_);
  if (pcap_compile(handle_, &program, text.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) != 0) {
    return PcapError(handle_, absl::StrCat("pcap_compile(\"", text, "\")"));
  }
  // libpcap keeps the frames already queued that the new filter also accepts; the set of ports
  // only grows, so that is all of them.
  const int set = pcap_setfilter(handle_, &program);
  pcap_freecode(&program);
  return set == 0 ? absl::OkStatus() : PcapError(handle_, "pcap_setfilter");
}

absl::Status PacketCapture::Drain() {
  auto keep = [](u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
    auto* frames = reinterpret_cast<std::vector<CapturedFrame>*>(user);
    // With nanosecond precision, libpcap puts nanoseconds in tv_usec.
    frames->push_back({static_cast<int64_t>(header->ts.tv_sec) * 1'000'000'000 +
                           static_cast<int64_t>(header->ts.tv_usec),
                       header->len,
                       std::string(reinterpret_cast<const char*>(bytes), header->caplen)});
  };
  while (true) {
    const int n = pcap_dispatch(handle_, -1, keep, reinterpret_cast<u_char*>(&frames_));
    if (n < 0) {
      return PcapError(handle_, "pcap_dispatch");
    }
    if (n == 0) {
      return absl::OkStatus();
    }
  }
}

uint64_t PacketCapture::dropped() const {
  pcap_stat stats{};
  return pcap_stats(handle_, &stats) == 0 ? stats.ps_drop : 0;
}

absl::Status PacketCapture::CreateFile(const std::string& path) {
  dumper_ = pcap_dump_open(handle_, path.c_str());
  if (dumper_ == nullptr) {
    return PcapError(handle_, absl::StrCat("cannot write the pcap file ", path));
  }
  dump_path_ = path;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CapturedFrame>> PacketCapture::TakeFrames() {
  if (absl::Status drained = Drain(); !drained.ok()) {
    return drained;
  }
  if (dumper_ != nullptr) {
    if (absl::Status dumped = DumpFrames(frames_); !dumped.ok()) {
      return dumped;
    }
  }
  std::vector<CapturedFrame> taken = std::move(frames_);
  frames_.clear();
  return taken;
}

absl::Status PacketCapture::DumpFrames(const std::vector<CapturedFrame>& frames) {
  for (const CapturedFrame& frame : frames) {
    pcap_pkthdr header{};
    header.ts.tv_sec = frame.wall_ns / 1'000'000'000;
    header.ts.tv_usec = frame.wall_ns % 1'000'000'000;
    header.caplen = static_cast<uint32_t>(frame.bytes.size());
    header.len = frame.original_length;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &header,
              reinterpret_cast<const u_char*>(frame.bytes.data()));
  }
  return pcap_dump_flush(dumper_) == 0
             ? absl::OkStatus()
             : absl::InternalError(absl::StrCat("writing the pcap file ", dump_path_));
}

absl::Status PacketCapture::WriteFile() {
  if (dumper_ == nullptr) {
    return absl::FailedPreconditionError("no pcap file was created");
  }
  absl::Status dumped = DumpFrames(frames_);
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  return dumped;
}

std::vector<TcpSegment> DecodeFrames(int link_type, const std::vector<CapturedFrame>& frames) {
  std::vector<TcpSegment> out;
  for (const CapturedFrame& frame : frames) {
    std::optional<TcpSegment> s =
        ParseTcpFrame(link_type, reinterpret_cast<const uint8_t*>(frame.bytes.data()),
                      frame.bytes.size(), frame.original_length);
    if (s.has_value()) {
      s->wall_ns = frame.wall_ns;
      out.push_back(*std::move(s));
    }
  }
  return out;
}

}  // namespace socklab
