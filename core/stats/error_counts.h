#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "core/net/error_class.h"
#include "nlohmann/json_fwd.hpp"

namespace socklab {

// How a cell is named in text and JSON: the errno first seen in it (ENFILE, not its class's
// EMFILE), or the class for those without an errno (deadline, eof).
std::string ErrorCellLabel(ErrorClass error_class, int first_errno);

// Socket errors counted by (phase, class), with the first errno and time seen for each cell.
// Not thread-safe: one per loop thread, merged by the owner after the threads stop (or under the
// owner's lock for periodic stats).
class ErrorCounts {
 public:
  // Counts errno `err` (positive) seen in `phase`, at monotonic time `now_ns`.
  void RecordErrno(Phase phase, int err, int64_t now_ns);
  // Counts a class without an errno (deadline, eof).
  void RecordClass(Phase phase, ErrorClass error_class, int64_t now_ns);

  void Merge(const ErrorCounts& other);
  // Adds `count` errors to a cell at once, as another run reported them (`socklab merge` reads
  // them back from a result's JSON); the cell keeps the earliest first errno and time.
  void AddCell(Phase phase, ErrorClass error_class, uint64_t count, int first_errno,
               int64_t first_seen_ns);

  uint64_t count(Phase phase, ErrorClass error_class) const {
    return cells_[Index(phase, error_class)].count;
  }
  uint64_t Total() const;

  // "connect ECONNREFUSED 12, read deadline 4" (empty string when nothing was counted). The
  // label is the errno first seen in that cell, so ENFILE is not shown as EMFILE.
  std::string ToText() const;
  // [{"phase":"connect","class":"refused","errno":"ECONNREFUSED","count":12,
  //   "first_seen_ns":...}, ...] for the cells with a count; first_seen_ns is monotonic.
  nlohmann::json ToJson() const;

  // Calls fn(phase, class, count, first_errno, first_seen_ns) for each non-zero cell.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (int p = 0; p < kPhaseCount; ++p) {
      for (int c = 0; c < kErrorClassCount; ++c) {
        const Cell& cell = cells_[p * kErrorClassCount + c];
        if (cell.count > 0) {
          fn(static_cast<Phase>(p), static_cast<ErrorClass>(c), cell.count, cell.first_errno,
             cell.first_seen_ns);
        }
      }
    }
  }

 private:
  struct Cell {
    uint64_t count = 0;
    int first_errno = 0;  // 0 for classes without an errno
    int64_t first_seen_ns = 0;
  };
  static int Index(Phase phase, ErrorClass error_class) {
    return static_cast<int>(phase) * kErrorClassCount + static_cast<int>(error_class);
  }
  void Record(Phase phase, ErrorClass error_class, int err, int64_t now_ns);

  std::array<Cell, kPhaseCount * kErrorClassCount> cells_{};
};

// Each non-zero cell's count by "phase label" ("connect ECONNREFUSED", "read deadline"), the
// names the per-second series uses.
std::map<std::string, uint64_t> ErrorCellTotals(const ErrorCounts& errors);

}  // namespace socklab
