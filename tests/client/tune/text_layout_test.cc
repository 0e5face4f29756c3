// Fitting `socklab tune` to a terminal: tables stay aligned when long cells wrap.
#include "client/tune/text_layout.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace socklab::client {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

size_t Longest(const std::string& text) {
  size_t longest = 0;
  for (const std::string& line : Lines(text)) {
    longest = std::max(longest, line.size());
  }
  return longest;
}

std::string LongProse() {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += "words of a formula ";
  }
  return text;  // 760 characters
}

TEST(TextLayout, WrapsWordsAndCutsOnlyWhatCannotFit) {
  EXPECT_EQ(WrapWords("a bb ccc dddd", 6), (std::vector<std::string>{"a bb", "ccc", "dddd"}));
  EXPECT_EQ(WrapWords("abcdefghij", 4), (std::vector<std::string>{"abcd", "efgh", "ij"}));
  EXPECT_EQ(WrapWords("one line", 0), (std::vector<std::string>{"one line"}));
  EXPECT_EQ(WrapParagraph("  fix: ", "aaa bbb ccc", 4, 14), "  fix: aaa bbb\n    ccc");
}

// A long middle column wraps inside its column: the next column starts where its header does on
// every line, and no line is longer than the width.
TEST(TextLayout, ALongColumnWrapsInsideItsColumn) {
  std::vector<std::vector<std::string>> rows = {
      {"parameter", "value", "what it means here", "status"},
      {"net.core.somaxconn", "4096", LongProse(), "ok"},
      {"net.ipv4.tcp_rmem", "4096 131072 6291456", "short", "limits your plan"}};
  std::string text = RenderAlignedTable(rows, 120);
  EXPECT_LE(Longest(text), 120u) << text;
  std::vector<std::string> lines = Lines(text);
  const size_t status = lines[0].find("status");
  const size_t meaning = lines[0].find("what it means here");
  ASSERT_NE(status, std::string::npos);
  EXPECT_EQ(lines[1].find("ok"), status) << text;
  EXPECT_EQ(lines.back().find("limits your plan"), status) << text;
  EXPECT_GT(lines.size(), 4u) << "the long cell did not wrap:\n" << text;
  for (size_t i = 2; i + 1 < lines.size(); ++i) {  // continuation lines of the long cell
    EXPECT_EQ(lines[i].find_first_not_of(' '), meaning) << lines[i];
  }
  // Without a width: one line per row, as a pipe or a file gets it.
  EXPECT_EQ(Lines(RenderAlignedTable(rows, 0)).size(), 3u);
}

// Too narrow for the prose column beside the others: it moves below its row, and the other
// columns stay aligned; sysctl names are never cut.
TEST(TextLayout, ANarrowTerminalPutsTheProseBelowItsRow) {
  std::vector<std::vector<std::string>> rows = {
      {"parameter", "value", "what it means here", "status"},
      {"net.ipv4.tcp_keepalive_time/intvl/probes", "7200 75 9", LongProse(), "ok"},
      {"net.core.somaxconn", "4096", "short", "limits your plan"}};
  std::string text = RenderAlignedTable(rows, 80);
  EXPECT_LE(Longest(text), 80u) << text;
  EXPECT_NE(text.find("net.ipv4.tcp_keepalive_time/intvl/probes"), std::string::npos) << text;
  std::vector<std::string> lines = Lines(text);
  const size_t status = lines[0].find("status");
  EXPECT_EQ(lines[2].find("ok"), status) << text;
  EXPECT_EQ(lines[3].rfind("    words of a formula", 0), 0u) << text;
}

TEST(TextLayout, ColumnsComeFromTheEnvironmentFirst) {
  setenv("COLUMNS", "77", 1);
  EXPECT_EQ(TerminalWidth(-1), 77u);
  setenv("COLUMNS", "not a number", 1);
  EXPECT_EQ(TerminalWidth(-1), 0u);  // and fd -1 is no terminal
  unsetenv("COLUMNS");
}

}  // namespace
}  // namespace socklab::client
