# SOCKLAB_PCH: the third-party headers every suite includes (GoogleTest, gmock, nlohmann/json,
# Abseil's status and strings), parsed once per build instead of once per test file: about 4 s
# of CPU per file with g++ (the README's test section has the numbers). One precompiled header,
# made by socklab_suite_pch and reused by every suite (tests/CMakeLists.txt).
#
# Not in the fuzzing build: there the parsers' libraries carry -fsanitize=fuzzer-no-link, and
# clang refuses a precompiled header made with other options.
option(SOCKLAB_PCH "Precompile the headers every test suite includes" ON)
if(SOCKLAB_FUZZ)
  set(SOCKLAB_PCH OFF)
endif()

# socklab_use_suite_pch(TARGET): TARGET reuses the suites' precompiled header.
function(socklab_use_suite_pch target)
  if(NOT SOCKLAB_PCH)
    return()
  endif()
  if(NOT TARGET socklab_suite_pch)
    add_library(socklab_suite_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/suite_pch.cc)
    target_link_libraries(socklab_suite_pch PRIVATE GTest::gtest GTest::gmock absl::status
      absl::statusor absl::strings absl::str_format nlohmann_json::nlohmann_json)
    target_precompile_headers(socklab_suite_pch PRIVATE
      <gtest/gtest.h> <gmock/gmock.h> <nlohmann/json.hpp>
      <absl/status/status.h> <absl/status/statusor.h> <absl/strings/str_cat.h>
      <absl/strings/str_format.h> <absl/strings/str_split.h> <absl/strings/string_view.h>
      <absl/time/time.h>
      <algorithm> <atomic> <chrono> <cstdint> <filesystem> <fstream> <functional> <map>
      <memory> <optional> <set> <sstream> <string> <thread> <vector>)
  endif()
  target_precompile_headers(${target} REUSE_FROM socklab_suite_pch)
endfunction()
