# Builds the parser's libFuzzer target with clang++ (Debian clang 14 + libclang-rt-14-dev) and
# runs it for a fixed number of iterations over the fixtures as seed corpus.
# Invoked by ctest: cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DRUNS=... -P run_parser_fuzz.cmake
# The environment variable SOCKLAB_FUZZ_CXX names another clang++ (a path or a program name).
#
# Without clang++ or its fuzzer runtime it prints a line with the marker "TCPSTAT_FUZZ_SKIPPED"
# and returns with status 0; the ctest test's SKIP_REGULAR_EXPRESSION turns that into a skip.
# (cmake_language(EXIT 77) would say it with an exit code, but needs CMake 3.29; the project
# requires 3.25.)
#
# The fuzzer is built outside the main (g++) build, so this script tracks its inputs itself:
# clang's own dependency output (-MM) lists every project header the sources include, saved next
# to the binary; any of them, the sources or this script being newer than the binary rebuilds it.
macro(skip reason)
  message("TCPSTAT_FUZZ_SKIPPED: ${reason}")
  return()
endmacro()

if(DEFINED ENV{SOCKLAB_FUZZ_CXX})
  set(clang_names $ENV{SOCKLAB_FUZZ_CXX})
else()
  set(clang_names clang++ clang++-14)
endif()
find_program(clangxx NAMES ${clang_names} NO_CACHE)
if(NOT clangxx)
  skip("${clang_names} not found; install clang-14 and libclang-rt-14-dev to fuzz the parser")
endif()

set(fuzzer ${BINARY_DIR}/proc_parser_fuzz)
set(depends_file ${BINARY_DIR}/proc_parser_fuzz.deps)
set(sources
  ${SOURCE_DIR}/tests/core/tcpstat/proc_parser_fuzz.cc
  ${SOURCE_DIR}/core/tcpstat/proc_parser.cc
  ${SOURCE_DIR}/core/tcpstat/tcp_state.cc
  ${SOURCE_DIR}/core/tcpstat/tcp_socket.cc
  ${SOURCE_DIR}/core/net/address.cc
  ${SOURCE_DIR}/core/base/status.cc
  ${SOURCE_DIR}/core/base/errno_name.cc)
set(flags -std=c++20 -I${SOURCE_DIR})

set(rebuild FALSE)
if(NOT EXISTS ${fuzzer} OR NOT EXISTS ${depends_file})
  set(rebuild "no fuzz target built yet")
else()
  # Make syntax: "target.o: a.cc b.h \<newline> c.h ...", one rule per source.
  file(READ ${depends_file} depends)
  string(REGEX REPLACE "\\\\\n" " " depends "${depends}")
  string(REGEX REPLACE "[^ \n\t]+:[ \t]" " " depends "${depends}")
  separate_arguments(depends UNIX_COMMAND "${depends}")
  foreach(input ${depends} ${sources} ${CMAKE_CURRENT_LIST_FILE})
    if(NOT EXISTS ${input} OR ${input} IS_NEWER_THAN ${fuzzer})
      set(rebuild "${input} changed")
      break()
    endif()
  endforeach()
endif()

if(rebuild)
  message("building ${fuzzer}: ${rebuild}")
  file(REMOVE ${fuzzer} ${depends_file})
  execute_process(
    COMMAND pkg-config --libs absl_status absl_statusor absl_strings absl_str_format
    OUTPUT_VARIABLE absl_libs OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config could not find Abseil")
  endif()
  separate_arguments(absl_libs UNIX_COMMAND "${absl_libs}")
  execute_process(
    COMMAND ${clangxx} ${flags} -MM ${sources}
    RESULT_VARIABLE rc OUTPUT_FILE ${depends_file}.tmp ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "listing the fuzz target's headers failed:\n${out}")
  endif()
  execute_process(
    COMMAND ${clangxx} ${flags} -O1 -g -fsanitize=fuzzer,address,undefined
            -fno-sanitize-recover=all ${sources} ${absl_libs} -o ${fuzzer}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    file(REMOVE ${fuzzer} ${depends_file}.tmp)
    if(out MATCHES "libclang_rt.fuzzer|cannot find -l|fuzzer.*No such file")
      skip("clang++ has no libFuzzer runtime (install libclang-rt-14-dev)\n${out}")
    endif()
    message(FATAL_ERROR "building the fuzz target failed:\n${out}")
  endif()
  # Only now: an interrupted build must not leave a dependency list that vouches for no binary.
  file(RENAME ${depends_file}.tmp ${depends_file})
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
