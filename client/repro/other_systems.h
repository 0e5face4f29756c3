#pragma once

#include <string>
#include <vector>

namespace socklab::repro {

// An error text people meet that Linux never produces, where it comes from, and the scenario
// that is the same failure on Linux. Plain data.
struct OtherSystemText {
  std::string text;        // as a log shows it
  std::string origin;      // which system, which call, under which condition
  std::string scenario;    // the Linux scenario with the same failure
  std::string linux_text;  // what Linux reports instead
};

// The texts of the tutorial's list with no Linux reproduction, for `repro --list` and the
// README. Thread affinity: none.
const std::vector<OtherSystemText>& OtherSystemTexts();

}  // namespace socklab::repro
