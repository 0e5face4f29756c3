# SOCKLAB_PCH: the third-party headers most files include, parsed once per build instead of once
# per file: nlohmann/json, Abseil's strings and the standard headers cost 1 to 3.5 s of CPU in
# each file, GoogleTest and gmock about 4 s more in each suite file (the README's test section
# has the build times). Two precompiled headers:
#   socklab_code_pch   for every library and program of core/, server/ and client/;
#   socklab_suite_pch  for every suite (tests/CMakeLists.txt): the same, plus GoogleTest and gmock.
# Not CLI11: its header defines validator objects at namespace scope, whose code every file that
# includes it compiles again, so precompiling it made a file that never registers a flag 7 s
# slower.
# A precompiled header that a target's flags do not match is an error (-Winvalid-pch under
# -Werror), not a silent slow build.
#
# Not in the fuzzing build: there the parsers' libraries carry -fsanitize=fuzzer-no-link, and
# clang refuses a precompiled header made with other options.
option(SOCKLAB_PCH "Precompile the third-party headers most files include" ON)
if(SOCKLAB_FUZZ)
  set(SOCKLAB_PCH OFF)
endif()

set(SOCKLAB_CODE_PCH_HEADERS
  <nlohmann/json.hpp>
  <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
  <absl/strings/str_format.h> <absl/strings/str_join.h> <absl/strings/str_split.h>
  <absl/strings/string_view.h> <absl/time/time.h>
  <algorithm> <array> <atomic> <chrono> <cstdint> <cstring> <deque> <filesystem> <fstream>
  <functional> <map> <memory> <mutex> <optional> <set> <span> <sstream> <string> <thread>
  <unordered_map> <utility> <vector>)
set(SOCKLAB_PCH_LIBRARIES nlohmann_json::nlohmann_json absl::status absl::statusor
  absl::strings absl::str_format absl::time)

# socklab_pch_target(NAME HEADERS... ): the OBJECT library NAME that makes one precompiled header.
function(socklab_pch_target name)
  add_library(${name} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch.cc)
  target_link_libraries(${name} PRIVATE ${SOCKLAB_PCH_LIBRARIES})
  target_precompile_headers(${name} PRIVATE ${ARGN})
endfunction()

# socklab_use_code_pch(DIRECTORY): every library and program defined under DIRECTORY (a
# directory already added with add_subdirectory) reuses socklab_code_pch.
function(socklab_use_code_pch directory)
  if(NOT SOCKLAB_PCH)
    return()
  endif()
  if(NOT TARGET socklab_code_pch)
    socklab_pch_target(socklab_code_pch ${SOCKLAB_CODE_PCH_HEADERS})
  endif()
  get_property(targets DIRECTORY ${directory} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target IN LISTS targets)
    get_target_property(type ${target} TYPE)
    if(type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
      target_precompile_headers(${target} REUSE_FROM socklab_code_pch)
    endif()
  endforeach()
  get_property(subdirectories DIRECTORY ${directory} PROPERTY SUBDIRECTORIES)
  foreach(subdirectory IN LISTS subdirectories)
    socklab_use_code_pch(${subdirectory})
  endforeach()
endfunction()

# socklab_use_suite_pch(TARGET): TARGET reuses the suites' precompiled header.
function(socklab_use_suite_pch target)
  if(NOT SOCKLAB_PCH)
    return()
  endif()
  if(NOT TARGET socklab_suite_pch)
    socklab_pch_target(socklab_suite_pch ${SOCKLAB_CODE_PCH_HEADERS}
      <gtest/gtest.h> <gmock/gmock.h>)
    target_link_libraries(socklab_suite_pch PRIVATE GTest::gtest GTest::gmock)
    socklab_optimize_like_a_suite(socklab_suite_pch)
  endif()
  target_precompile_headers(${target} REUSE_FROM socklab_suite_pch)
endfunction()

# socklab_optimize_like_a_suite(TARGET): a suite's own files are compiled at -O1 in every build.
# What they test is in the libraries, compiled as the build says (-O3 in Release); -O3 on
# GoogleTest's expanded assertions bought nothing and cost 40% more CPU per suite file. The
# sanitizer builds are at -O1 already.
function(socklab_optimize_like_a_suite target)
  if(SOCKLAB_SANITIZE STREQUAL "")
    target_compile_options(${target} PRIVATE -O1)
  endif()
endfunction()
