#include "client/tune/text_layout.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace socklab::client {
namespace {

constexpr size_t kGap = 2;               // blanks between columns
constexpr size_t kNarrowestColumn = 12;  // a narrowed column keeps at least this much

void TrimRight(std::string& line) {
  while (!line.empty() && line.back() == ' ') {
    line.pop_back();
  }
}

}  // namespace

size_t TerminalWidth(int fd) {
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr) {
    int value = 0;
    if (absl::SimpleAtoi(columns, &value) && value > 0) {
      return static_cast<size_t>(value);
    }
  }
  winsize size{};
  if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 0;
}

std::vector<std::string> WrapWords(absl::string_view text, size_t width) {
  std::vector<std::string> lines(1);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    std::string& line = lines.back();
    if (width == 0 || line.empty() || line.size() + 1 + word.size() <= width) {
      absl::StrAppend(&line, line.empty() ? "" : " ", word);
    } else {
      lines.emplace_back(word);
    }
    // A word wider than the column (a long sysctl command): cut it.
    while (width > 0 && lines.back().size() > width) {
      std::string rest = lines.back().substr(width);
      lines.back().resize(width);
      lines.push_back(std::move(rest));
    }
  }
  return lines;
}

std::string WrapParagraph(absl::string_view first, absl::string_view text, size_t indent,
                          size_t width) {
  std::string out(first);
  size_t column = first.size();
  bool line_empty = true;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (width > 0 && !line_empty && column + 1 + word.size() > width) {
      absl::StrAppend(&out, "\n", std::string(indent, ' '));
      column = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
    line_empty = false;
  }
  return out;
}

namespace {

constexpr size_t kNarrowestProse = 30;  // narrower than this, a column moves below its row
constexpr size_t kStackIndent = 4;

size_t Total(const std::vector<size_t>& widths) {
  return widths.empty() ? 0
                        : std::accumulate(widths.begin(), widths.end(), size_t{0}) +
                              kGap * (widths.size() - 1);
}

// Column widths that fit `width`: the widest column narrows first, never below its longest word
// (sysctl names and commands are not cut) nor kNarrowestColumn, then the next widest.
std::vector<size_t> FitColumns(const std::vector<size_t>& natural,
                               const std::vector<size_t>& floors, size_t width) {
  std::vector<size_t> widths = natural;
  while (width > 0 && Total(widths) > width) {
    size_t pick = widths.size();
    for (size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] > floors[i] && (pick == widths.size() || widths[i] > widths[pick])) {
        pick = i;
      }
    }
    if (pick == widths.size()) {
      break;  // every column at its floor: the lines stay longer than the terminal
    }
    size_t excess = Total(widths) - width;
    widths[pick] = std::max(floors[pick], widths[pick] > excess ? widths[pick] - excess : 0);
  }
  return widths;
}

// The lines of one row, each cell wrapped inside its column.
std::vector<std::string> RowLines(const std::vector<std::string>& row,
                                  const std::vector<size_t>& widths, bool wrap) {
  std::vector<std::vector<std::string>> cells;
  size_t height = 1;
  for (size_t i = 0; i < row.size(); ++i) {
    cells.push_back(WrapWords(row[i], wrap ? widths[i] : 0));
    height = std::max(height, cells.back().size());
  }
  std::vector<std::string> lines;
  for (size_t line_index = 0; line_index < height; ++line_index) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& part = line_index < cells[i].size() ? cells[i][line_index] : "";
      absl::StrAppend(&line, part);
      if (i + 1 < cells.size()) {
        line.append(widths[i] - std::min(widths[i], part.size()) + kGap, ' ');
      }
    }
    TrimRight(line);
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

std::string RenderAlignedTable(const std::vector<std::vector<std::string>>& rows, size_t width) {
  std::vector<size_t> natural;
  std::vector<size_t> floors;
  for (const auto& row : rows) {
    natural.resize(std::max(natural.size(), row.size()), 0);
    floors.resize(natural.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      natural[i] = std::max(natural[i], row[i].size());
      for (absl::string_view word : absl::StrSplit(row[i], ' ', absl::SkipEmpty())) {
        floors[i] = std::max(floors[i], word.size());
      }
    }
  }
  for (size_t i = 0; i < natural.size(); ++i) {
    floors[i] = std::min(natural[i], std::max(floors[i], kNarrowestColumn));
  }
  std::vector<size_t> widths = FitColumns(natural, floors, width);
  const size_t widest =
      static_cast<size_t>(std::max_element(natural.begin(), natural.end()) - natural.begin());
  std::string out;
  if (width == 0 || natural.size() < 2 || widths[widest] >= kNarrowestProse ||
      widths[widest] == natural[widest]) {
    for (const auto& row : rows) {
      for (const std::string& line : RowLines(row, widths, width > 0)) {
        absl::StrAppend(&out, line, "\n");
      }
    }
    return out;
  }
  // Too narrow for the widest (prose) column: it goes below its row, indented, full width; the
  // other columns stay aligned.
  std::vector<size_t> rest_natural;
  std::vector<size_t> rest_floors;
  for (size_t i = 0; i < natural.size(); ++i) {
    if (i != widest) {
      rest_natural.push_back(natural[i]);
      rest_floors.push_back(floors[i]);
    }
  }
  std::vector<size_t> rest_widths = FitColumns(rest_natural, rest_floors, width);
  const size_t prose_width =
      width > kStackIndent + kNarrowestColumn ? width - kStackIndent : kNarrowestColumn;
  for (const auto& row : rows) {
    std::vector<std::string> rest;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i != widest) {
        rest.push_back(row[i]);
      }
    }
    for (const std::string& line : RowLines(rest, rest_widths, true)) {
      absl::StrAppend(&out, line, "\n");
    }
    if (widest < row.size() && !row[widest].empty()) {
      for (const std::string& line : WrapWords(row[widest], prose_width)) {
        absl::StrAppend(&out, std::string(kStackIndent, ' '), line, "\n");
      }
    }
  }
  return out;
}

}  // namespace socklab::client
