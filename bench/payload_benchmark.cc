// Checking an echoed message against what was sent: one memcmp against the pattern block.

#include <vector>

#include "benchmark/benchmark.h"
#include "client/load/payload.h"

namespace socklab::client {
namespace {

void BM_Payload_Verify(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  PayloadPattern pattern(size);
  const std::byte* message = pattern.MessageStart(42, 7);
  std::vector<std::byte> echo(message, message + size);  // what a correct server returns
  for (auto _ : state) {
    benchmark::DoNotOptimize(PayloadPattern::Matches(message, 0, echo.data(), size));
  }
  state.SetBytesProcessed(state.iterations() * size);
}
BENCHMARK(BM_Payload_Verify)->Arg(64)->Arg(4096)->Arg(65536);

// Where a message starts and how long it is: computed per message, so it must stay cheap.
void BM_Payload_StartAndSize(benchmark::State& state) {
  PayloadPattern pattern(4096);
  uint64_t seq = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(pattern.MessageStart(42, seq));
    benchmark::DoNotOptimize(PayloadPattern::MessageSize(42, seq, 64, 4096));
    ++seq;
  }
}
BENCHMARK(BM_Payload_StartAndSize);

}  // namespace
}  // namespace socklab::client
