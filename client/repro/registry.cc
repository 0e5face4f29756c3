#include "client/repro/registry.h"

#include "client/repro/scenarios/scenarios.h"

namespace socklab::repro {

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario>* const kAll = new std::vector<Scenario>{
      RefusedScenario(),
      ResetScenario(),
      ResetUnreadScenario(),
      BrokenPipeScenario(),
      TooManyFilesScenario(),
      BindInUseScenario(),
      ClientPortInUseScenario(),
      PortExhaustionScenario(),
      ConnectTimeoutScenario(),
      ReadTimeoutScenario(),
      PeerVanishedScenario(),
      PermissionScenario(),
      EofScenario(),
      SocketClosedScenario(),
      UnreachableScenario(),
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

}  // namespace socklab::repro
