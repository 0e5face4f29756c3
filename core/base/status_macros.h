#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the Status from the enclosing function when `expr` is not OK.
#define SOCKLAB_RETURN_IF_ERROR(expr)                   \
  do {                                                  \
    if (absl::Status _status = (expr); !_status.ok()) { \
      return _status;                                   \
    }                                                   \
  } while (0)

#define SOCKLAB_CONCAT_INNER_(a, b) a##b
#define SOCKLAB_CONCAT_(a, b) SOCKLAB_CONCAT_INNER_(a, b)

// `lhs` = value of the StatusOr `rexpr`, or return its Status from the enclosing function.
#define SOCKLAB_ASSIGN_OR_RETURN(lhs, rexpr) \
  SOCKLAB_ASSIGN_OR_RETURN_IMPL_(SOCKLAB_CONCAT_(_statusor_, __LINE__), lhs, rexpr)
#define SOCKLAB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = std::move(statusor).value()
