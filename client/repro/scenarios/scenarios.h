#pragma once

#include "client/repro/registry.h"

// One function per scenario, each in its own file under client/repro/scenarios/.
namespace socklab::repro {

Scenario NormalScenario();
Scenario RefusedScenario();
Scenario ResetScenario();
Scenario ResetUnreadScenario();
Scenario BrokenPipeScenario();
Scenario TooManyFilesScenario();
Scenario BindInUseScenario();
Scenario ClientPortInUseScenario();
Scenario PortExhaustionScenario();
Scenario ConnectTimeoutScenario();
Scenario ReadTimeoutScenario();
Scenario PeerVanishedScenario();
Scenario PermissionScenario();
Scenario EofScenario();
Scenario SocketClosedScenario();
Scenario UnreachableScenario();
Scenario NoBufferSpaceScenario();
Scenario TimeWaitScenario();
Scenario CloseWaitLeakScenario();
Scenario FinWait2Scenario();
Scenario SimultaneousCloseScenario();
Scenario SimultaneousOpenScenario();
Scenario ServerRestartScenario();
Scenario FirewallResetScenario();
Scenario FirewallIcmpScenario();
Scenario ProhibitRouteScenario();

}  // namespace socklab::repro
