# Event loop benchmarks (core/loop).
socklab_add_benchmark(loop_pingpong_benchmark OWN_MAIN SOURCES loop_pingpong_benchmark.cc
  LIBS socklab_loop)
