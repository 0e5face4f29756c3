#pragma once

namespace socklab::bench {

// Records the machine a benchmark runs on in Google Benchmark's context, which heads the console
// output and is the "context" object of --benchmark_format=json: what every socklab report
// states first (core/sysinfo MachineInfo: kernel release, CPUs this process may use,
// RLIMIT_NOFILE, somaxconn, the ephemeral port range, kernel.io_uring_disabled) and the event
// loop backends that run here, with the reason when io_uring does not. Call before
// RunSpecifiedBenchmarks. Thread affinity: the main thread.
void RecordMachineContext();

}  // namespace socklab::bench
