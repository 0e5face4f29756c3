#pragma once

#include <string_view>

namespace socklab {

// The release both programs report (--version, report headers, JSON "version"): the CMake
// project's VERSION, the one place it is written.
std::string_view Version();

}  // namespace socklab
