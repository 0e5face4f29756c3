// Classifying a data-path errno and counting it: what every failed completion costs.
#include <errno.h>

#include <array>

#include "benchmark/benchmark.h"
#include "core/net/error_class.h"
#include "core/stats/error_counts.h"

namespace socklab {
namespace {

constexpr std::array<int, 8> kErrnos = {ECONNREFUSED,  ECONNRESET, EPIPE,   EMFILE,
                                        EADDRNOTAVAIL, ETIMEDOUT,  ENOBUFS, EPROTO};

void BM_Classify_Errno(benchmark::State& state) {
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Classify(Phase::kRead, kErrnos[i++ & 7]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Classify_Errno);

// The worst case of the table scan: an errno the table does not hold.
void BM_Classify_ErrnoUnknown(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(Classify(Phase::kRead, EPROTO));
  }
}
BENCHMARK(BM_Classify_ErrnoUnknown);

void BM_ErrorCounts_RecordErrno(benchmark::State& state) {
  ErrorCounts counts;
  size_t i = 0;
  for (auto _ : state) {
    counts.RecordErrno(Phase::kConnect, kErrnos[i & 7], static_cast<int64_t>(i));
    ++i;
  }
  benchmark::DoNotOptimize(counts.Total());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ErrorCounts_RecordErrno);

}  // namespace
}  // namespace socklab
