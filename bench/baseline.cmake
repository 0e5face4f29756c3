# The yardsticks of bench/e2e/compare_baseline.py: the simplest fast epoll echo server and
# ping-pong client, and the simplest io_uring echo server and ping-pong client, with no socklab
# code.
foreach(program echo_server pingpong_client uring_echo_server uring_pingpong_client)
  add_executable(baseline_${program} ${CMAKE_CURRENT_SOURCE_DIR}/baseline/${program}.cc)
  set_target_properties(baseline_${program} PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endforeach()
target_link_libraries(baseline_uring_echo_server PRIVATE PkgConfig::LIBURING)
target_link_libraries(baseline_uring_pingpong_client PRIVATE PkgConfig::LIBURING)
