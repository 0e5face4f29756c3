# core/tcpstat: the /proc/net/tcp parser on a synthetic 50,000-socket table.
socklab_add_benchmark(tcpstat_parser_benchmark OWN_MAIN SOURCES tcpstat_parser_benchmark.cc
  LIBS socklab_tcpstat)
