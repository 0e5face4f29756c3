# Sanitizer and fuzzing builds (scripts/build SANITIZE=..., FUZZ=1; scripts/test --sanitizers makes both).
#
# SOCKLAB_SANITIZE=address builds with ASan+UBSan, =thread with TSan. Both at -O1 with line tables
# only: the sanitizers' own advice for speed, readable stacks, and about a third less compile
# time than -O2 -g (the README's test section has the numbers).
#
# SOCKLAB_FUZZ (clang only) links the fuzz targets (tests/fuzz) with libFuzzer; the parsers they
# drive are compiled with coverage for it (-fsanitize=fuzzer-no-link, see tests/fuzz).
set(SOCKLAB_SANITIZE "" CACHE STRING "Sanitizer build: address | thread | empty")
option(SOCKLAB_FUZZ "Link the fuzz targets with libFuzzer (clang; with SOCKLAB_SANITIZE=address)"
       OFF)

if(NOT SOCKLAB_SANITIZE STREQUAL "")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-O1 -gline-tables-only -fno-omit-frame-pointer)
  else()
    # GCC's -Wmaybe-uninitialized depends on the optimizer's view, which the sanitizers'
    # instrumentation changes: under -fsanitize=address at -O1, GCC 12 warns inside libstdc++'s own
    # std::regex/std::function copies. The Release build (-O3) keeps the warning as an error.
    add_compile_options(-O1 -g1 -fno-omit-frame-pointer -Wno-maybe-uninitialized)
  endif()
endif()

if(SOCKLAB_SANITIZE STREQUAL "address")
  # Without UBSan's vptr check: on a cache miss it validates a vtable through a pipe and
  # /proc/self/maps, so in a process whose fd table is full (the EMFILE tests, on purpose) every
  # virtual call is reported as "invalid vptr".
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined -fno-sanitize=vptr)
elseif(SOCKLAB_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread)
  add_link_options(-fsanitize=thread)
elseif(NOT SOCKLAB_SANITIZE STREQUAL "")
  message(FATAL_ERROR "SOCKLAB_SANITIZE must be address, thread or empty, not '${SOCKLAB_SANITIZE}'")
endif()

if(SOCKLAB_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SOCKLAB_FUZZ needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++, as scripts/build FUZZ=1 does")
endif()
