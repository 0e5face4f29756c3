# Load-client benchmarks: the per-message hot pieces (histogram record, errno classification,
# payload check). The end-to-end comparison is bench/e2e/ (run by hand, not by ctest).
socklab_add_benchmark(histogram_benchmark SOURCES histogram_benchmark.cc LIBS socklab_stats)
socklab_add_benchmark(errno_benchmark SOURCES errno_benchmark.cc LIBS socklab_stats socklab_net)
socklab_add_benchmark(payload_benchmark SOURCES payload_benchmark.cc LIBS socklab_load)
