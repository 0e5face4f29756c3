#include "client/load/issue_policy.h"

#include <algorithm>
#include <cmath>

namespace socklab::client {

int64_t MessageBudget::ReserveIncarnation() {
  const int64_t reserved = std::min<int64_t>(left_, static_cast<int64_t>(churn_));
  left_ -= reserved;
  if (reserved == 0) {
    exhausted_ = true;
  }
  return reserved;
}

bool MessageBudget::TakeOne(int64_t* reserved) {
  if (reserves()) {
    if (*reserved <= 0) {
      return false;
    }
    --*reserved;
    return true;
  }
  if (bounded_) {
    if (left_ <= 0) {
      exhausted_ = true;
      return false;
    }
    --left_;
  }
  return true;
}

void MessageBudget::ReturnUnsent(int64_t count) {
  if (bounded_ && count > 0) {
    left_ += count;
    exhausted_ = false;
  }
}

int64_t ConnectPacer::Reserve(int64_t now_ns) {
  const int64_t at = std::max(now_ns, next_ns_);
  next_ns_ = at + static_cast<int64_t>(interval_ns_);
  return at;
}

uint64_t ScheduledTimes(int64_t origin_ns, double interval_ns, int64_t from_ns, int64_t end_ns) {
  // k from ceil((lo - origin) / I) to ceil((end - origin) / I) - 1.
  const int64_t lo = std::max(from_ns, origin_ns);
  if (interval_ns <= 0 || end_ns <= lo) {
    return 0;
  }
  const auto first = static_cast<uint64_t>(std::ceil((lo - origin_ns) / interval_ns));
  const auto past = static_cast<uint64_t>(std::ceil((end_ns - origin_ns) / interval_ns));
  return past - first;
}

}  // namespace socklab::client
