# `socklab states` end to end: 10,000 real sockets, /proc vs netlink vs ss -tan.
socklab_add_benchmark(states_e2e_benchmark OWN_MAIN SOURCES states_e2e_benchmark.cc
  LIBS socklab_tcpstat)
