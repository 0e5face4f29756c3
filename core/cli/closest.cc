#include "core/cli/closest.h"

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"

namespace socklab::cli {

int EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic programme: the swap looks two rows back.
  const size_t n = b.size();
  std::vector<int> before(n + 1), previous(n + 1), current(n + 1);
  for (size_t j = 0; j <= n; ++j) {
    previous[j] = static_cast<int>(j);
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    for (size_t j = 1; j <= n; ++j) {
      const int substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[n];
}

int TypoBudget(size_t length) {
  if (length <= 3) {
    return 0;
  }
  if (length <= 5) {
    return 1;
  }
  return length <= 9 ? 2 : 3;
}

std::string ClosestName(std::string_view typed, const std::vector<std::string>& names) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(typed.data(), typed.size()));
  std::string best;
  int best_distance = std::numeric_limits<int>::max();
  for (const std::string& name : names) {
    const int distance = EditDistance(lower, absl::AsciiStrToLower(name));
    if (distance < best_distance && distance <= TypoBudget(name.size())) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace socklab::cli
