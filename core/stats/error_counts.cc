#include "core/stats/error_counts.h"

#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "nlohmann/json.hpp"

namespace socklab {

std::string ErrorCellLabel(ErrorClass error_class, int first_errno) {
  if (first_errno != 0) {
    return ErrnoName(first_errno);
  }
  return std::string(ClassLabel(error_class));
}

void ErrorCounts::Record(Phase phase, ErrorClass error_class, int err, int64_t now_ns) {
  Cell& cell = cells_[Index(phase, error_class)];
  if (cell.count++ == 0) {
    cell.first_errno = err;
    cell.first_seen_ns = now_ns;
  }
}

void ErrorCounts::RecordErrno(Phase phase, int err, int64_t now_ns) {
  Record(phase, Classify(phase, err), err, now_ns);
}

void ErrorCounts::RecordClass(Phase phase, ErrorClass error_class, int64_t now_ns) {
  Record(phase, error_class, 0, now_ns);
}

void ErrorCounts::Merge(const ErrorCounts& other) {
  for (size_t i = 0; i < cells_.size(); ++i) {
    const Cell& theirs = other.cells_[i];
    if (theirs.count == 0) {
      continue;
    }
    Cell& mine = cells_[i];
    if (mine.count == 0 || theirs.first_seen_ns < mine.first_seen_ns) {
      mine.first_errno = theirs.first_errno;
      mine.first_seen_ns = theirs.first_seen_ns;
    }
    mine.count += theirs.count;
  }
}

void ErrorCounts::AddCell(Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
                          int64_t first_seen_ns) {
  if (count == 0) {
    return;
  }
  Cell& cell = cells_[Index(phase, error_class)];
  if (cell.count == 0 || first_seen_ns < cell.first_seen_ns) {
    cell.first_errno = first_errno;
    cell.first_seen_ns = first_seen_ns;
  }
  cell.count += count;
}

uint64_t ErrorCounts::Total() const {
  uint64_t total = 0;
  for (const Cell& cell : cells_) {
    total += cell.count;
  }
  return total;
}

std::string ErrorCounts::ToText() const {
  std::string text;
  ForEach([&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno, int64_t) {
    absl::StrAppend(&text, text.empty() ? "" : ", ", PhaseName(phase), " ",
                    ErrorCellLabel(error_class, first_errno), " ", count);
  });
  return text;
}

nlohmann::json ErrorCounts::ToJson() const {
  nlohmann::json cells = nlohmann::json::array();
  ForEach([&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
              int64_t first_seen_ns) {
    cells.push_back({{"phase", PhaseName(phase)},
                     {"class", ClassKey(error_class)},
                     {"errno", ErrorCellLabel(error_class, first_errno)},
                     {"count", count},
                     {"first_seen_ns", first_seen_ns}});
  });
  return cells;
}

std::map<std::string, uint64_t> ErrorCellTotals(const ErrorCounts& errors) {
  std::map<std::string, uint64_t> totals;
  errors.ForEach([&](Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
                     int64_t /*first_seen_ns*/) {
    totals[absl::StrCat(PhaseName(phase), " ", ErrorCellLabel(error_class, first_errno))] += count;
  });
  return totals;
}

}  // namespace socklab
