#include "client/repro/find.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/base/errno_name.h"
#include "core/cli/closest.h"

namespace socklab::repro {
namespace {

constexpr double kMatchThreshold = 0.75;

// Words that carry nothing: package names of Java exceptions, and little words of strerror texts.
bool IsFiller(absl::string_view word) {
  static const std::set<std::string, std::less<>>* const kFiller =
      new std::set<std::string, std::less<>>{"a",  "an", "at",  "by", "in",   "is",  "of",
                                             "on", "or", "the", "to", "java", "net", "io"};
  return kFiller->count(word) != 0;
}

// Lowercase words of letters and digits: "java.net.BindException: JVM_Bind" -> java net
// bindexception jvm bind.
std::vector<std::string> Words(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  for (char& c : lower) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      c = ' ';
    }
  }
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(lower, ' ', absl::SkipEmpty())) {
    if (!IsFiller(word)) {
      words.emplace_back(word);
    }
  }
  return words;
}

// How well a typed word stands for a word of a text: 1 equal, 0.8 within its typo budget, 0.7
// cut short (at least 3 letters: "pip", "refus"), 0 otherwise.
double WordScore(const std::string& typed, const std::string& word) {
  if (typed == word) {
    return 1;
  }
  if (cli::EditDistance(typed, word) <= cli::TypoBudget(std::max(typed.size(), word.size()))) {
    return 0.8;
  }
  if (typed.size() >= 3 && word.size() > typed.size() &&
      word.compare(0, typed.size(), typed) == 0) {
    return 0.7;
  }
  return 0;
}

// The share of `query` words found in `text`, each by its best word.
double TextScore(const std::vector<std::string>& query, const std::vector<std::string>& text) {
  double sum = 0;
  for (const std::string& typed : query) {
    double best = 0;
    for (const std::string& word : text) {
      best = std::max(best, WordScore(typed, word));
    }
    sum += best;
  }
  return sum / static_cast<double>(query.size());
}

// A text a user may have in hand for a scenario, how to name it in the answer, and its rank
// among equal scores: what the kernel returned first, then Java's words, then ours.
struct Searchable {
  std::string text;
  std::string label;
  int rank = 0;
};

std::vector<Searchable> SearchableTexts(const ScenarioInfo& info) {
  std::vector<Searchable> texts;
  for (int err : ExpectedErrnos(info)) {
    texts.push_back({ErrnoName(err), ErrnoName(err), 0});
    texts.push_back({ErrnoMessage(err),
                     absl::StrCat("strerror(", ErrnoName(err), ") \"", ErrnoMessage(err), "\""),
                     0});
  }
  // Each Java exception on its own: "java.x.A: ...; java.y.B: ..." lists two, and so does
  // "JDK 13+ (NioSocketImpl): java.x.A: ...; JDK 12 and older: java.x.A: ..." (a "; " inside an
  // exception's own words or a note after it does not split it).
  std::vector<std::string> javas;
  for (absl::string_view part : absl::StrSplit(info.java, "; ")) {
    if (javas.empty() || absl::StartsWith(part, "java") || absl::StrContains(part, ": java.")) {
      javas.emplace_back(part);
    } else {
      absl::StrAppend(&javas.back(), "; ", part);
    }
  }
  for (const std::string& java : javas) {
    texts.push_back({java, absl::StrCat("Java: ", java), 1});
  }
  texts.push_back(
      {absl::StrReplaceAll(info.name, {{"-", " "}}), absl::StrCat("name ", info.name), 2});
  texts.push_back({info.title, absl::StrCat("title \"", info.title, "\""), 2});
  texts.push_back({info.expected, absl::StrCat("expected \"", info.expected, "\""), 2});
  return texts;
}

}  // namespace

std::vector<FindMatch> FindScenarios(absl::string_view query) {
  const std::vector<std::string> words = Words(query);
  std::vector<FindMatch> matches;
  if (words.empty()) {
    return matches;
  }
  std::vector<int> ranks;
  for (const Scenario& scenario : AllScenarios()) {
    FindMatch best{&scenario, 0, ""};
    int best_rank = 0;
    for (const Searchable& searchable : SearchableTexts(scenario.info)) {
      double score = TextScore(words, Words(searchable.text));
      if (score > best.score || (score == best.score && searchable.rank < best_rank)) {
        best.score = score;
        best.matched = searchable.label;
        best_rank = searchable.rank;
      }
    }
    if (best.score >= kMatchThreshold) {
      matches.push_back(std::move(best));
      ranks.push_back(best_rank);
    }
  }
  // Best first; among equal scores the errno's own texts before Java's and ours, then the
  // registry's order.
  std::vector<size_t> order(matches.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (matches[a].score != matches[b].score) {
      return matches[a].score > matches[b].score;
    }
    return ranks[a] < ranks[b];
  });
  std::vector<FindMatch> sorted;
  for (size_t i : order) {
    sorted.push_back(std::move(matches[i]));
  }
  return sorted;
}

}  // namespace socklab::repro
