#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace socklab::client {

// Text that fits a terminal: `socklab tune` lines run to 400+ characters (formulas, fixes),
// which a terminal would break mid-column. Pure functions except TerminalWidth. Thread
// affinity: none.

// The width to fit: $COLUMNS when it is a positive number, else the terminal's (TIOCGWINSZ)
// when `fd` is one, else 0: no limit (a pipe or a file keeps one line per row for grep).
size_t TerminalWidth(int fd);

// `text` in lines of at most `width` columns, broken between words (a word longer than the width
// is cut). width 0: one line.
std::vector<std::string> WrapWords(absl::string_view text, size_t width);

// `first` + `text`, wrapped at `width` with continuation lines indented by `indent` spaces.
std::string WrapParagraph(absl::string_view first, absl::string_view text, size_t indent,
                          size_t width);

// A table with every column aligned; the first row is the header. When the rows are wider than
// `width`, the widest columns are narrowed (never below their longest word, so sysctl names and
// commands stay whole) and their cells wrapped onto continuation lines inside their column, so
// every column still starts at the same place. When the widest column would be left narrower
// than 30, it moves instead below each row, indented by 4 and wrapped at the full width, and the
// other columns stay aligned. width 0: no limit. No trailing blanks.
std::string RenderAlignedTable(const std::vector<std::vector<std::string>>& rows, size_t width);

}  // namespace socklab::client
