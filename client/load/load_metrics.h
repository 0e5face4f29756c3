#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "client/load/load_result.h"
#include "core/stats/histogram.h"

namespace socklab::client {

// The running load's live metrics for `socklab load --metrics ADDR`, in the Prometheus text
// format: counters since the process started (warmup and every --repeat / --sweep run included,
// as counters are), the open connections, and round-trip and connect latency as Prometheus
// histograms in seconds (kLatencyBucketsSeconds).
//
// Thread safety: the engine thread feeds it (Start, AddInterval, AddSecond), the metrics
// endpoint's thread reads it (Text); one mutex guards both, held for a copy of a few counters.
class LoadMetrics {
 public:
  // The `le` bounds, in seconds: 10 us (a loopback round trip) to 10 s (past any read timeout
  // worth setting), 1-2.5-5 per decade.
  static const std::vector<double>& LatencyBucketsSeconds();

  LoadMetrics();

  // A run starts with this configuration (info labels, the requested rate).
  void Start(const LoadConfig& config);
  // One second's latency histograms, folded into the cumulative buckets.
  void AddInterval(const Histogram& rtt, const Histogram& connect);
  // One second's counts, added to the counters.
  void AddSecond(const LoadSecond& second);

  // One scrape.
  std::string Text() const;

 private:
  struct Buckets {
    std::vector<uint64_t> cumulative;  // one per LatencyBucketsSeconds() bound
    uint64_t count = 0;
    double sum_s = 0;
    void Add(const Histogram& h);
  };

  mutable std::mutex mu_;
  std::string version_;
  std::string backend_;
  std::string target_;
  double rate_ = 0;
  uint64_t runs_ = 0;
  uint64_t messages_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  uint64_t connects_ = 0;
  int64_t open_connections_ = 0;
  std::map<std::string, uint64_t> errors_;  // "phase label" (LoadSecond::errors_by_class) -> n
  Buckets rtt_;
  Buckets connect_;
};

}  // namespace socklab::client
