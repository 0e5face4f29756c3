# Builds the parser's libFuzzer target with clang++ (Debian clang 14 + libclang-rt-14-dev) and
# runs it for a fixed number of iterations over the fixtures as seed corpus.
# Invoked by ctest: cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DRUNS=... -P run_parser_fuzz.cmake
# Exits 77 (ctest SKIP_RETURN_CODE) when clang++ or its fuzzer runtime is missing.
find_program(CLANGXX NAMES clang++ clang++-14)
if(NOT CLANGXX)
  message("SKIP: clang++ not found; install clang-14 and libclang-rt-14-dev to fuzz the parser")
  cmake_language(EXIT 77)
endif()

set(fuzzer ${BINARY_DIR}/proc_parser_fuzz)
set(sources
  ${SOURCE_DIR}/tests/core/tcpstat/proc_parser_fuzz.cc
  ${SOURCE_DIR}/core/tcpstat/proc_parser.cc
  ${SOURCE_DIR}/core/tcpstat/tcp_state.cc
  ${SOURCE_DIR}/core/tcpstat/tcp_socket.cc
  ${SOURCE_DIR}/core/net/address.cc
  ${SOURCE_DIR}/core/base/status.cc
  ${SOURCE_DIR}/core/base/errno_name.cc)

set(rebuild FALSE)
if(NOT EXISTS ${fuzzer})
  set(rebuild TRUE)
else()
  foreach(source ${sources} ${SOURCE_DIR}/core/tcpstat/proc_parser.h)
    if(${source} IS_NEWER_THAN ${fuzzer})
      set(rebuild TRUE)
    endif()
  endforeach()
endif()

if(rebuild)
  execute_process(
    COMMAND pkg-config --libs absl_status absl_statusor absl_strings absl_str_format
    OUTPUT_VARIABLE absl_libs OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config could not find Abseil")
  endif()
  separate_arguments(absl_libs UNIX_COMMAND "${absl_libs}")
  execute_process(
    COMMAND ${CLANGXX} -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=all -I${SOURCE_DIR} ${sources} ${absl_libs} -o ${fuzzer}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    if(out MATCHES "libclang_rt.fuzzer|cannot find -l|fuzzer.*No such file")
      message("SKIP: clang++ has no libFuzzer runtime (install libclang-rt-14-dev)\n${out}")
      cmake_language(EXIT 77)
    endif()
    message(FATAL_ERROR "building the fuzz target failed:\n${out}")
  endif()
endif()

# New inputs go to a scratch directory, never into the source tree's fixtures.
set(scratch ${BINARY_DIR}/proc_parser_fuzz_corpus)
file(REMOVE_RECURSE ${scratch})
file(MAKE_DIRECTORY ${scratch})
execute_process(
  COMMAND ${fuzzer} -runs=${RUNS} -seed=1 -max_len=4096 -timeout=10
          ${scratch} ${SOURCE_DIR}/tests/core/tcpstat/testdata
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the parser fuzzer found a failing input (exit ${rc})")
endif()
