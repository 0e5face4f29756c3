#include "server/server_metrics.h"

#include "absl/strings/str_cat.h"
#include "core/metrics/exposition.h"
#include "core/metrics/standard_metrics.h"

namespace socklab::server {
namespace {

using metrics::Exposition;
using metrics::Labels;
using metrics::MetricType;

// A family with one sample per loop: `field` of each loop's snapshot, labelled with the loop.
template <typename Field>
void PerLoop(Exposition* out, absl::string_view name, MetricType type, absl::string_view help,
             const std::vector<StatsSnapshot>& per_loop, Field field) {
  out->Begin(name, type, help);
  for (size_t i = 0; i < per_loop.size(); ++i) {
    out->Sample(static_cast<uint64_t>(field(per_loop[i])), {{"loop", absl::StrCat(i)}});
  }
}

// One family, several samples per loop told apart by one label (reason, mode).
void PerLoopBy(Exposition* out, absl::string_view name, absl::string_view help,
               absl::string_view label, const std::vector<StatsSnapshot>& per_loop,
               const std::vector<std::pair<std::string, uint64_t StatsSnapshot::*>>& fields) {
  out->Begin(name, MetricType::kCounter, help);
  for (size_t i = 0; i < per_loop.size(); ++i) {
    for (const auto& [value, member] : fields) {
      out->Sample(per_loop[i].*member, {{"loop", absl::StrCat(i)}, {std::string(label), value}});
    }
  }
}

}  // namespace

std::string ServerMetricsText(const std::vector<StatsSnapshot>& per_loop,
                              const MetricsContext& context) {
  Exposition out;
  out.Begin("socklab_server_info", MetricType::kGauge,
            "Always 1: the server's version and event-loop backend as labels.");
  out.Sample(uint64_t{1}, {{"version", context.version}, {"backend", context.backend}});
  out.Begin("socklab_server_loops", MetricType::kGauge, "Event-loop threads serving.");
  out.Sample(static_cast<uint64_t>(per_loop.size()));
  PerLoop(&out, "socklab_server_connections_accepted_total", MetricType::kCounter,
          "Connections accepted.", per_loop, [](const StatsSnapshot& s) { return s.accepted; });
  PerLoop(&out, "socklab_server_connections_closed_total", MetricType::kCounter,
          "Connections closed (by either side).", per_loop,
          [](const StatsSnapshot& s) { return s.closed; });
  PerLoop(&out, "socklab_server_connections_open", MetricType::kGauge, "Connections open now.",
          per_loop, [](const StatsSnapshot& s) { return s.open; });
  PerLoop(&out, "socklab_server_received_bytes_total", MetricType::kCounter,
          "Bytes read from clients.", per_loop, [](const StatsSnapshot& s) { return s.bytes_in; });
  PerLoop(&out, "socklab_server_sent_bytes_total", MetricType::kCounter,
          "Bytes echoed to clients (accepted by the kernel).", per_loop,
          [](const StatsSnapshot& s) { return s.bytes_out; });
  out.Begin("socklab_server_errors_total", MetricType::kCounter,
            "Socket errors the kernel reported, by phase, class and errno (the first errno seen "
            "in the class, or the class for those without one).");
  for (size_t i = 0; i < per_loop.size(); ++i) {
    per_loop[i].errors.ForEach(
        [&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno, int64_t) {
          out.Sample(count, {{"loop", absl::StrCat(i)},
                             {"phase", std::string(PhaseName(phase))},
                             {"class", std::string(ClassKey(error_class))},
                             {"errno", ErrorCellLabel(error_class, first_errno)}});
        });
  }
  PerLoopBy(&out, "socklab_server_accept_pauses_total",
            "Times accepting paused: at --max-connections, or backing off after "
            "EMFILE/ENFILE/ENOBUFS.",
            "reason", per_loop,
            {{"max_connections", &StatsSnapshot::accept_pauses_limit},
             {"no_fds", &StatsSnapshot::accept_pauses_no_fds}});
  PerLoop(&out, "socklab_server_parked_over_limit_total", MetricType::kCounter,
          "Connections accepted past --max-connections (a race), held unread until there is room.",
          per_loop, [](const StatsSnapshot& s) { return s.parked_over_limit; });
  PerLoop(&out, "socklab_server_backpressure_pauses_total", MetricType::kCounter,
          "Times reading from a connection paused because its peer did not read the echo.",
          per_loop, [](const StatsSnapshot& s) { return s.backpressure_pauses; });
  PerLoopBy(&out, "socklab_server_closed_by_server_total",
            "Connections the server closed on its own decision, by reason.", "reason", per_loop,
            {{"idle_timeout", &StatsSnapshot::idle_timeouts},
             {"write_timeout", &StatsSnapshot::write_timeouts},
             {"drain_deadline", &StatsSnapshot::drain_cut}});
  PerLoopBy(&out, "socklab_server_faults_total", "Faults applied on purpose (--fault), by mode.",
            "mode", per_loop,
            {{"reset", &StatsSnapshot::fault_resets},
             {"close", &StatsSnapshot::fault_closes},
             {"half_close", &StatsSnapshot::fault_half_closes},
             {"stop_reading", &StatsSnapshot::fault_stopped_reading},
             {"blackhole", &StatsSnapshot::fault_blackholes},
             {"paced", &StatsSnapshot::fault_paced},
             {"listener_close", &StatsSnapshot::fault_listener_closes},
             {"refused_late", &StatsSnapshot::fault_refused_late}});
  metrics::AppendLocalPortStates(
      &out, "socklab_server_connection_states",
      absl::StrCat("The listener's own TCP sockets (local port ", context.port,
                   ") by state, as node_tcp_connection_states names them."),
      context.port);
  metrics::AppendProcessFds(&out);
  return out.text();
}

}  // namespace socklab::server
