// The /proc/net/tcp parser on a synthetic 50,000-socket table: lines per second, against a
// sscanf-per-line parser as the baseline it replaces.
//   build/bench/tcpstat_parser_benchmark
#include <string.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/machine_context.h"
#include "benchmark/benchmark.h"
#include "core/tcpstat/proc_parser.h"
#include "core/tcpstat/tally.h"

namespace {

using socklab::tcpstat::ParseProcNetTcp;
using socklab::tcpstat::StateTally;
using socklab::tcpstat::TcpSocket;

constexpr int kSockets = 50'000;

// Lines in the kernel's own format (get_tcp4_sock / get_timewait4_sock / tcp6 variants): a mix
// of ESTABLISHED, TIME_WAIT and a few listeners, addresses and ports varying. As the kernel
// writes them, each tcp (IPv4) line, the header too, is padded with spaces to 149 characters plus
// '\n' (tcp4_seq_show: seq_setwidth(seq, TMPSZ - 1) ... seq_pad(seq, '\n'), TMPSZ 150); tcp6
// lines are not padded (tcp6_seq_show). The parser skips the padding, and bytes/s counts it.
std::string SyntheticTable(bool v6) {
  std::string text;
  auto end_line = [&](std::string line) {
    if (!v6 && line.size() < 149) {
      line.append(149 - line.size(), ' ');
    }
    absl::StrAppend(&text, line, "\n");
  };
  end_line(v6 ? "  sl  local_address                         remote_address                        "
                "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
              : "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   "
                "uid  timeout inode");
  auto address = [&](uint32_t v4) {
    return v6 ? absl::StrFormat("0000000000000000FFFF0000%08X", v4) : absl::StrFormat("%08X", v4);
  };
  for (int i = 0; i < kSockets; ++i) {
    std::string local = address(0x0100007F);
    std::string remote = address(0x0100007F + ((i % 200) << 24));
    if (i % 1000 == 0) {  // LISTEN on the wildcard: 0.0.0.0 or (dual-stack) ::
      std::string any = v6 ? std::string(32, '0') : address(0);
      end_line(absl::StrFormat(
          "%4d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5u %8d %u %d "
          "0000000000000000 100 0 0 10 0",
          i, any, 7007 + i / 1000, any, 0, 0x0A, 0, i % 5, 0, 0, 0, 1000, 0, 100000 + i, 1));
    } else if (i % 10 == 0) {  // TIME_WAIT
      end_line(absl::StrFormat(
          "%4d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5d %8d %d %d 0000000000000000", i,
          local, 7007, remote, 30000 + i % 30000, 0x06, 0, 0, 3, 1000 + i % 5000, 0, 0, 0, 0, 3));
    } else {  // ESTABLISHED
      end_line(
          absl::StrFormat("%4d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5u %8d %u %d "
                          "0000000000000000 20 4 30 10 -1",
                          i, local, 7007, remote, 30000 + i % 30000, 0x01, i % 7, i % 3, 0, 0, 0,
                          1000, 0, 100000 + i, 1));
    }
  }
  return text;
}

const std::string& Table(bool v6) {
  static const std::string v4_text = SyntheticTable(false);
  static const std::string v6_text = SyntheticTable(true);
  return v6 ? v6_text : v4_text;
}

void BM_ProcParser_Ipv4(benchmark::State& state) {
  const std::string& text = Table(false);
  for (auto _ : state) {
    StateTally tally;
    ParseProcNetTcp(text, [&](const TcpSocket& socket) { tally.Add(socket); });
    benchmark::DoNotOptimize(tally);
  }
  state.SetItemsProcessed(state.iterations() * kSockets);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ProcParser_Ipv4)->Unit(benchmark::kMillisecond);

void BM_ProcParser_Ipv6(benchmark::State& state) {
  const std::string& text = Table(true);
  for (auto _ : state) {
    StateTally tally;
    ParseProcNetTcp(text, [&](const TcpSocket& socket) { tally.Add(socket); });
    benchmark::DoNotOptimize(tally);
  }
  state.SetItemsProcessed(state.iterations() * kSockets);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ProcParser_Ipv6)->Unit(benchmark::kMillisecond);

// Records kept in a vector (what ReadTcpSockets returns), not just tallied.
void BM_ProcParser_Ipv4Records(benchmark::State& state) {
  const std::string& text = Table(false);
  for (auto _ : state) {
    socklab::tcpstat::ProcParseResult result = ParseProcNetTcp(text);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * kSockets);
}
BENCHMARK(BM_ProcParser_Ipv4Records)->Unit(benchmark::kMillisecond);

// The baseline: one sscanf per line, as many tools parse this file.
void BM_ProcParser_Ipv4Sscanf(benchmark::State& state) {
  const std::string& text = Table(false);
  for (auto _ : state) {
    StateTally tally;
    const char* p = text.c_str();
    p = strchr(p, '\n') + 1;  // header
    while (*p != '\0') {
      // sscanf on the whole remaining text would strlen() it every call (quadratic); give it
      // one line at a time, as a line-reading tool does.
      const char* end = strchr(p, '\n');
      if (end == nullptr) {
        break;
      }
      char line[256];
      size_t length = std::min<size_t>(static_cast<size_t>(end - p), sizeof(line) - 1);
      memcpy(line, p, length);
      line[length] = '\0';
      unsigned slot, local, local_port, remote, remote_port, st, tx, rx, timer, retr, uid;
      unsigned long when, inode;
      int probes;
      if (sscanf(line, "%u: %8X:%4X %8X:%4X %2X %8X:%8X %2X:%8lX %8X %u %d %lu", &slot, &local,
                 &local_port, &remote, &remote_port, &st, &tx, &rx, &timer, &when, &retr, &uid,
                 &probes, &inode) == 14 &&
          st >= 1 && st <= 12) {
        ++tally.counts[st];
        ++tally.total;
      }
      p = end + 1;
    }
    benchmark::DoNotOptimize(tally);
  }
  state.SetItemsProcessed(state.iterations() * kSockets);
}
BENCHMARK(BM_ProcParser_Ipv4Sscanf)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  socklab::bench::RecordMachineContext();
  benchmark::AddCustomContext("sockets_per_table", std::to_string(kSockets));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
