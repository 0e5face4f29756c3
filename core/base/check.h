#pragma once

#include <cstdio>
#include <cstdlib>

// Aborts with a message when a programmer's invariant does not hold (for example EBADF or
// EFAULT on the data path). Never used for input or kernel conditions a user can cause.
#define SOCKLAB_CHECK(cond, msg)                                                               \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, (msg)); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)
