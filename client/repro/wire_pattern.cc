#include "client/repro/wire_pattern.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace socklab::repro {
namespace {

constexpr absl::string_view kNoPacket = "no packet";
constexpr absl::string_view kNothingBack = "nothing back";
// Beyond this many segments the observed text ends in "...": the lines show them all.
constexpr size_t kObservedShown = 14;

struct Parsed {
  bool no_packet = false;
  bool nothing_back = false;
  std::vector<std::string> items;  // "> SYN"
};

absl::Status Parse(absl::string_view pattern, Parsed& out) {
  if (pattern == kNoPacket) {
    out.no_packet = true;
    return absl::OkStatus();
  }
  if (pattern.empty()) {
    return absl::InvalidArgumentError("empty wire pattern: name the segments or \"no packet\"");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(pattern, ", ");
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view item = parts[i];
    if (item == kNothingBack && i + 1 == parts.size() && i > 0) {
      out.nothing_back = true;
      continue;
    }
    absl::string_view flags = item;
    if (!(absl::ConsumePrefix(&flags, "> ") || absl::ConsumePrefix(&flags, "< ")) ||
        flags.empty() || flags.find(' ') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "wire pattern item '", item,
          "': expected '> FLAGS' or '< FLAGS' (\"nothing back\" only last, \"no packet\" alone)"));
    }
    out.items.emplace_back(item);
  }
  return absl::OkStatus();
}

// How many of `items` appear in order in `segments`.
size_t MatchedPrefix(const std::vector<std::string>& items,
                     const std::vector<const WireSegmentLine*>& segments) {
  size_t matched = 0;
  for (const WireSegmentLine* s : segments) {
    if (matched < items.size() && PatternItem(*s) == items[matched]) {
      ++matched;
    }
  }
  return matched;
}

std::string Notation(const std::vector<const WireSegmentLine*>& segments) {
  std::vector<std::string> items;
  for (const WireSegmentLine* s : segments) {
    if (items.size() == kObservedShown) {
      items.push_back("...");
      break;
    }
    items.push_back(PatternItem(*s));
  }
  return absl::StrJoin(items, ", ");
}

}  // namespace

std::string PatternItem(const WireSegmentLine& segment) {
  return absl::StrCat(segment.from_client ? "> " : "< ", segment.flags);
}

absl::Status ValidateWirePattern(absl::string_view pattern) {
  Parsed parsed;
  return Parse(pattern, parsed);
}

WireMatch MatchWirePattern(absl::string_view pattern,
                           const std::vector<WireSegmentLine>& segments) {
  Parsed parsed;
  if (!Parse(pattern, parsed).ok()) {
    return {false, "(the scenario's pattern is malformed)"};
  }
  std::map<int, std::vector<const WireSegmentLine*>> by_connection;
  for (const WireSegmentLine& s : segments) {
    by_connection[s.connection].push_back(&s);
  }
  if (segments.empty()) {
    return {parsed.no_packet, std::string(kNoPacket)};
  }
  if (parsed.no_packet) {
    return {false, absl::StrCat(segments.size(), " segments on ", by_connection.size(),
                                by_connection.size() == 1 ? " connection" : " connections")};
  }
  // The connection that matches, else the one that came closest (the first among equals).
  int best = by_connection.begin()->first;
  size_t best_matched = 0;
  bool ok = false;
  for (const auto& [number, list] : by_connection) {
    size_t matched = MatchedPrefix(parsed.items, list);
    bool back = std::any_of(list.begin(), list.end(),
                            [](const WireSegmentLine* s) { return !s->from_client; });
    if (matched == parsed.items.size() && !(parsed.nothing_back && back)) {
      best = number;
      ok = true;
      break;
    }
    if (matched > best_matched) {
      best = number;
      best_matched = matched;
    }
  }
  const std::vector<const WireSegmentLine*>& list = by_connection[best];
  std::string observed = Notation(list);
  if (parsed.nothing_back && std::none_of(list.begin(), list.end(), [](const WireSegmentLine* s) {
        return !s->from_client;
      })) {
    absl::StrAppend(&observed, ", ", kNothingBack);
  }
  if (by_connection.size() > 1) {
    observed = absl::StrCat("connection ", best, " of ", by_connection.size(), ": ", observed);
  }
  return {ok, std::move(observed)};
}

}  // namespace socklab::repro
