// What the baseline ping-pong clients share: their command line, the message they send, the
// source addresses churn rotates through, the round-trip histogram and the JSON line they print.
// No socklab code.
//
//   NAME PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]
// Prints one JSON line: messages, connections, errors, echoes that differed from the message
// (mismatches, over the whole run) and round-trip percentiles over the SECONDS after the warm-up.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace baseline {

// With --churn each connection carries one message, then closes and a new one connects, from the
// next of kChurnSources local addresses (127.0.0.2 to 127.0.0.33): the TIME_WAIT each close
// leaves holds its 4-tuple for a second or more, and from one address the port range runs out at
// about 14,000 connections/s, a limit of the machine rather than of the client.
constexpr uint32_t kChurnSources = 32;

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct PingPongRun {
  sockaddr_in server{};
  int connections = 0;
  size_t size = 0;
  bool churn = false;
  int64_t window_start_ns = 0;  // round trips are counted from here (after the warm-up) ...
  int64_t window_end_ns = 0;    // ... to here, when the client stops
  double seconds = 0;
  std::vector<char> message;  // bytes with no short period: a shifted or repeated echo differs

  // Reads the command line (exits 2 with the usage line on a short one) and ignores SIGPIPE.
  static PingPongRun FromArgs(int argc, char** argv) {
    if (argc < 6) {
      std::fprintf(stderr, "usage: %s PORT CONNECTIONS SIZE SECONDS WARMUP_SECONDS [--churn]\n",
                   argv[0]);
      std::exit(2);
    }
    std::signal(SIGPIPE, SIG_IGN);
    PingPongRun run;
    run.server.sin_family = AF_INET;
    run.server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    run.server.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
    run.connections = std::atoi(argv[2]);
    run.size = static_cast<size_t>(std::atol(argv[3]));
    run.seconds = std::atof(argv[4]);
    run.churn = argc > 6 && std::strcmp(argv[6], "--churn") == 0;
    run.window_start_ns = NowNs() + static_cast<int64_t>(std::atof(argv[5]) * 1e9);
    run.window_end_ns = run.window_start_ns + static_cast<int64_t>(run.seconds * 1e9);
    run.message.resize(run.size);
    uint32_t lcg = 12345;
    for (char& byte : run.message) {
      lcg = lcg * 1664525u + 1013904223u;
      byte = static_cast<char>(lcg >> 24);
    }
    return run;
  }

  // The local address of the churn connection after `*next`, which it advances.
  static sockaddr_in ChurnSource(uint32_t* next) {
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (*next)++ % kChurnSources);
    return source;
  }
};

// What a client counts, and its JSON line.
class PingPongTally {
 public:
  uint64_t messages = 0, connections = 0, errors = 0, mismatches = 0;

  // A round trip (for churn, a connection's) that ended at `now_ns`; counted when inside the
  // window.
  void RoundTrip(const PingPongRun& run, int64_t started_ns, int64_t now_ns) {
    if (now_ns < run.window_start_ns) return;
    ++messages;
    connections += run.churn ? 1 : 0;
    int64_t bucket = (now_ns - started_ns) / kBucketNs;
    ++histogram_[bucket < kBuckets ? bucket : kBuckets - 1];
  }

  void Print(const PingPongRun& run) const {
    std::printf(
        "{\"messages\":%llu,\"connections\":%llu,\"errors\":%llu,\"mismatches\":%llu,"
        "\"seconds\":%.3f,\"p50_ns\":%lld,\"p99_ns\":%lld}\n",
        static_cast<unsigned long long>(messages), static_cast<unsigned long long>(connections),
        static_cast<unsigned long long>(errors), static_cast<unsigned long long>(mismatches),
        run.seconds, static_cast<long long>(PercentileNs(0.50)),
        static_cast<long long>(PercentileNs(0.99)));
  }

 private:
  static constexpr int64_t kBucketNs = 1000;      // 1 us buckets
  static constexpr int64_t kBuckets = 1'000'000;  // up to 1 s; slower ones land in the last

  int64_t PercentileNs(double p) const {
    uint64_t target = static_cast<uint64_t>(p * static_cast<double>(messages));
    uint64_t seen = 0;
    for (int64_t b = 0; b < kBuckets; ++b) {
      seen += histogram_[b];
      if (seen > target) return (b + 1) * kBucketNs;  // the bucket's upper edge
    }
    return kBuckets * kBucketNs;
  }

  std::vector<uint32_t> histogram_ = std::vector<uint32_t>(kBuckets);
};

}  // namespace baseline
