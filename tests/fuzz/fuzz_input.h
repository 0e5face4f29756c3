#pragma once

// What the fuzz targets share. A target states properties of every input it is given; a failed
// one aborts, and libFuzzer (or replay_main.cc) then names the input that broke it.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/string_view.h"

namespace socklab::fuzz {

inline void Check(bool condition, const char* what, int line) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property failed (line %d): %s\n", line, what);
    std::abort();
  }
}
#define SOCKLAB_FUZZ_CHECK(condition) ::socklab::fuzz::Check((condition), #condition, __LINE__)

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// One input feeding several parsers: the pieces between '\0' bytes, in order (empty pieces
// included, so "a\0\0b" is "a", "", "b").
inline std::vector<absl::string_view> Pieces(const uint8_t* data, size_t size) {
  std::vector<absl::string_view> pieces;
  absl::string_view text = AsText(data, size);
  while (true) {
    size_t end = text.find('\0');
    pieces.push_back(text.substr(0, end));
    if (end == absl::string_view::npos) {
      return pieces;
    }
    text.remove_prefix(end + 1);
  }
}

}  // namespace socklab::fuzz
