# socklab-server benchmarks. The memory benchmark drives build/bin/socklab-server as a child
# process, so it depends on the program being built.
socklab_add_benchmark(server_memory_benchmark OWN_MAIN SOURCES server_memory_benchmark.cc
  LIBS socklab_net socklab_sysinfo socklab_loop)
add_dependencies(server_memory_benchmark socklab-server)
