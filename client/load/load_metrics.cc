#include "client/load/load_metrics.h"

#include "absl/strings/str_cat.h"
#include "core/metrics/exposition.h"
#include "core/metrics/standard_metrics.h"

namespace socklab::client {

using metrics::Exposition;
using metrics::MetricType;

const std::vector<double>& LoadMetrics::LatencyBucketsSeconds() {
  static const std::vector<double> kBounds = {1e-5,   2.5e-5, 5e-5, 1e-4,   2.5e-4, 5e-4, 1e-3,
                                              2.5e-3, 5e-3,   1e-2, 2.5e-2, 5e-2,   0.1,  0.25,
                                              0.5,    1,      2.5,  5,      10};
  return kBounds;
}

LoadMetrics::LoadMetrics() {
  rtt_.cumulative.assign(LatencyBucketsSeconds().size(), 0);
  connect_.cumulative.assign(LatencyBucketsSeconds().size(), 0);
}

void LoadMetrics::Buckets::Add(const Histogram& h) {
  const std::vector<double>& bounds = LatencyBucketsSeconds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative[i] += h.CountAtOrBelow(static_cast<int64_t>(bounds[i] * 1e9));
  }
  count += h.count();
  sum_s += h.mean() * static_cast<double>(h.count()) / 1e9;
}

void LoadMetrics::Start(const LoadConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  version_ = config.version;
  backend_ = config.backend;
  target_ = config.target;
  rate_ = config.rate;
  ++runs_;
}

void LoadMetrics::AddInterval(const Histogram& rtt, const Histogram& connect) {
  std::lock_guard<std::mutex> lock(mu_);
  rtt_.Add(rtt);
  connect_.Add(connect);
}

void LoadMetrics::AddSecond(const LoadSecond& second) {
  std::lock_guard<std::mutex> lock(mu_);
  messages_ += second.messages;
  bytes_sent_ += second.bytes_sent;
  bytes_received_ += second.bytes_received;
  connects_ += second.connects;
  open_connections_ = second.open_connections;
  for (const auto& [label, count] : second.errors_by_class) {
    errors_[label] += count;
  }
}

std::string LoadMetrics::Text() const {
  Exposition out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.Begin("socklab_load_info", MetricType::kGauge,
              "Always 1: the run's version, backend and target as labels.");
    out.Sample(uint64_t{1}, {{"version", version_}, {"backend", backend_}, {"target", target_}});
    out.Begin("socklab_load_runs_total", MetricType::kCounter,
              "Runs started (more than 1 with --repeat or --sweep).");
    out.Sample(runs_);
    out.Begin("socklab_load_requested_rate", MetricType::kGauge,
              "Messages per second the current run's schedule asks for (-R); 0 in closed loop.");
    out.Sample(rate_);
    out.Begin("socklab_load_messages_completed_total", MetricType::kCounter,
              "Round trips completed (echo received and checked).");
    out.Sample(messages_);
    out.Begin("socklab_load_sent_bytes_total", MetricType::kCounter, "Bytes sent to the target.");
    out.Sample(bytes_sent_);
    out.Begin("socklab_load_received_bytes_total", MetricType::kCounter,
              "Bytes received from the target.");
    out.Sample(bytes_received_);
    out.Begin("socklab_load_connections_opened_total", MetricType::kCounter,
              "Connections established.");
    out.Sample(connects_);
    out.Begin("socklab_load_connections_open", MetricType::kGauge, "Connections open now.");
    out.Sample(open_connections_);
    out.Begin("socklab_load_errors_total", MetricType::kCounter,
              "Errors by phase and errno (or class without one: deadline, eof; data mismatch).");
    for (const auto& [label, count] : errors_) {
      // "connect ECONNREFUSED" -> phase connect, errno ECONNREFUSED.
      const size_t space = label.find(' ');
      out.Sample(count, {{"phase", label.substr(0, space)},
                         {"errno", space == std::string::npos ? "" : label.substr(space + 1)}});
    }
    out.Begin("socklab_load_round_trip_seconds", MetricType::kHistogram,
              "Round-trip latency (open loop: from the scheduled send time).");
    out.Histogram(LatencyBucketsSeconds(), rtt_.cumulative, rtt_.count, rtt_.sum_s);
    out.Begin("socklab_load_connect_seconds", MetricType::kHistogram,
              "Connect latency, from connect() to the connection being established.");
    out.Histogram(LatencyBucketsSeconds(), connect_.cumulative, connect_.count, connect_.sum_s);
  }
  metrics::AppendProcessFds(&out);
  return out.text();
}

}  // namespace socklab::client
