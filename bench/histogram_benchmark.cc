// The latency histogram's cost per recorded message, and of the reads a report makes.

#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/stats/histogram.h"

namespace socklab {
namespace {

std::vector<int64_t> LatencySamples() {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(11.5, 1.0);  // around 100 us, long tail
  std::vector<int64_t> values(4096);
  for (int64_t& v : values) {
    v = static_cast<int64_t>(dist(rng));
  }
  return values;
}

void BM_Histogram_Record(benchmark::State& state) {
  const std::vector<int64_t> values = LatencySamples();
  Histogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.Record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_Record);

// The reference a histogram replaces: keeping every sample (amortized push_back).
void BM_Histogram_RecordVectorBaseline(benchmark::State& state) {
  const std::vector<int64_t> values = LatencySamples();
  std::vector<int64_t> kept;
  size_t i = 0;
  for (auto _ : state) {
    kept.push_back(values[i++ & 4095]);
    if (kept.size() == (1 << 20)) {
      kept.clear();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Histogram_RecordVectorBaseline);

void BM_Histogram_Merge(benchmark::State& state) {
  Histogram a;
  Histogram b;
  for (int64_t v : LatencySamples()) {
    b.Record(v);
  }
  for (auto _ : state) {
    a.Merge(b);
  }
  benchmark::DoNotOptimize(a.count());
}
BENCHMARK(BM_Histogram_Merge);

void BM_Histogram_ValueAtPercentile(benchmark::State& state) {
  Histogram h;
  for (int64_t v : LatencySamples()) {
    h.Record(v);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.ValueAtPercentile(99.9));
  }
}
BENCHMARK(BM_Histogram_ValueAtPercentile);

}  // namespace
}  // namespace socklab
