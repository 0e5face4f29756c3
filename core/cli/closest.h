#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace socklab::cli {

// Typo tolerance for what a user types: subcommand names, scenario names, error texts.

// The optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters ("pipe" -> "pip" 1, "reset" -> "rseet" 1). Case-sensitive: callers
// lowercase first. Pure.
int EditDistance(std::string_view a, std::string_view b);

// How many edits a word of `length` characters may carry and still count as that word: 0 up to
// 3 characters, 1 up to 5, 2 up to 9, 3 beyond.
int TypoBudget(size_t length);

// The name in `names` nearest to `typed` (case-insensitive) when it is within TypoBudget of the
// name, else "". Ties go to the earlier name.
std::string ClosestName(std::string_view typed, const std::vector<std::string>& names);

}  // namespace socklab::cli
