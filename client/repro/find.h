#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/repro/registry.h"

namespace socklab::repro {

// From a symptom to a scenario: `socklab repro --find TEXT`.

// One scenario that matches, with what matched.
struct FindMatch {
  const Scenario* scenario = nullptr;  // points into AllScenarios()
  double score = 0;                    // 0..1: the share of the query's words found
  std::string matched;  // what matched: 'strerror(ECONNRESET) "Connection reset by peer"'
};

// The scenarios whose errno names, strerror texts, Java exceptions, name or title contain the
// words of `query` (an errno name, a line of a log, a Java exception), best first. Tolerant of
// case, punctuation and typos (cli::TypoBudget per word; a word may also be cut short: "pip"
// finds "pipe"). A scenario matches when at least 3/4 of the query's words are found in one of
// its texts. Empty when nothing matches. Thread affinity: none.
std::vector<FindMatch> FindScenarios(absl::string_view query);

}  // namespace socklab::repro
