#pragma once

#include <chrono>
#include <thread>

namespace socklab::testing {

// Polls `done` every 10 ms until it holds or `timeout_ms` has passed: whether it held. For a
// condition the test cannot be told about (a peer's count, the kernel's socket table), so that
// no test sleeps a fixed time as synchronisation and none waits without bound.
template <typename Done>
bool WaitFor(Done done, int timeout_ms = 10000) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace socklab::testing
