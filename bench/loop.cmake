# Event loop benchmarks (core/loop).
socklab_add_benchmark(loop_pingpong_benchmark SOURCES loop_pingpong_benchmark.cc
  LIBS socklab_loop)
