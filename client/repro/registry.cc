#include "client/repro/registry.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "client/repro/scenarios/scenarios.h"
#include "core/base/errno_name.h"

namespace socklab::repro {

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario>* const kAll = new std::vector<Scenario>{
      NormalScenario(),
      RefusedScenario(),
      ResetScenario(),
      ResetUnreadScenario(),
      BrokenPipeScenario(),
      TooManyFilesScenario(),
      BindInUseScenario(),
      ServerRestartScenario(),
      ClientPortInUseScenario(),
      PortExhaustionScenario(),
      ConnectTimeoutScenario(),
      ReadTimeoutScenario(),
      PeerVanishedScenario(),
      PermissionScenario(),
      EofScenario(),
      SocketClosedScenario(),
      UnreachableScenario(),
      FirewallResetScenario(),
      FirewallIcmpScenario(),
      ProhibitRouteScenario(),
      NoBufferSpaceScenario(),
      TimeWaitScenario(),
      CloseWaitLeakScenario(),
      FinWait2Scenario(),
      SimultaneousCloseScenario(),
      SimultaneousOpenScenario(),
  };
  return *kAll;
}

const Scenario* FindScenario(absl::string_view name) {
  for (const Scenario& s : AllScenarios()) {
    if (s.info.name == name) {
      return &s;
    }
  }
  return nullptr;
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const Scenario& s : AllScenarios()) {
    names.push_back(s.info.name);
  }
  return names;
}

std::vector<int> ExpectedErrnos(const ScenarioInfo& info) {
  // The kernel's errno numbers stay below 134 on every architecture Linux runs on.
  constexpr int kLastErrno = 133;
  std::vector<int> errnos;
  for (absl::string_view word :
       absl::StrSplit(info.expected, absl::ByAnyChar(" ,;()"), absl::SkipEmpty())) {
    if (word.size() < 3 || word[0] != 'E') {
      continue;
    }
    for (int err = 1; err <= kLastErrno; ++err) {
      if (ErrnoName(err) == word && std::find(errnos.begin(), errnos.end(), err) == errnos.end()) {
        errnos.push_back(err);
      }
    }
  }
  return errnos;
}

}  // namespace socklab::repro
