// `socklab repro --find`: from what a user has in hand (an errno name, a log line, a Java
// exception) to the scenario that reproduces it.
#include "client/repro/find.h"

#include <errno.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "client/repro/registry.h"
#include "core/base/errno_name.h"
#include "gtest/gtest.h"

namespace socklab::repro {
namespace {

std::vector<std::string> Names(absl::string_view query) {
  std::vector<std::string> names;
  for (const FindMatch& m : FindScenarios(query)) {
    names.push_back(m.scenario->info.name);
  }
  return names;
}

std::string First(absl::string_view query) {
  std::vector<std::string> names = Names(query);
  return names.empty() ? "(none)" : names.front();
}

// The kernel's own texts (strerror on this machine, not copies of them) find their scenarios.
TEST(Find, StrerrorTextsFindTheirScenarios) {
  EXPECT_EQ(Names(ErrnoMessage(ECONNRESET)), (std::vector<std::string>{"reset", "reset-unread"}));
  EXPECT_EQ(First(ErrnoMessage(EMFILE)), "too-many-files");
  EXPECT_EQ(First(ErrnoMessage(EADDRNOTAVAIL)), "port-exhaustion");
  EXPECT_EQ(First(ErrnoMessage(ECONNREFUSED)), "refused");
  std::vector<std::string> in_use = Names(ErrnoMessage(EADDRINUSE));
  for (const char* name : {"bind-in-use", "server-restart", "client-port-in-use"}) {
    EXPECT_NE(std::find(in_use.begin(), in_use.end(), name), in_use.end()) << name;
  }
  FindMatch match = FindScenarios(ErrnoMessage(ECONNRESET)).front();
  EXPECT_NE(match.matched.find("strerror(ECONNRESET)"), std::string::npos) << match.matched;
}

TEST(Find, ErrnoNamesToleratingCaseAndTypos) {
  EXPECT_EQ(First("ECONNREFUSED"), "refused");
  EXPECT_EQ(First("econnrefused"), "refused");
  EXPECT_EQ(First("ECONNRESTE"), "reset");  // two letters swapped
  EXPECT_EQ(First("EADDRNOTAVIAL"), "port-exhaustion");
  EXPECT_EQ(First("connection reset by peer"), "reset");
  EXPECT_EQ(First("Conection reset by peer"), "reset");
  EXPECT_EQ(First("TOO MANY OPEN FILE"), "too-many-files");
}

// The exceptions a Java developer meets, as the seed tutorial lists them (its typos included).
TEST(Find, JavaExceptionsFindTheirScenarios) {
  const std::map<std::string, std::string> java = {
      {"java.net.SocketException: No buffer space available (maximum connections reached?)",
       "port-exhaustion"},
      {"java.net.SocketException: Broken pip", "broken-pipe"},
      {"java.net.SocketException: Connection reset", "reset"},
      {"java.net.SocketException: Too many open files", "too-many-files"},
      {"java.net.BindException: Address already in use: JVM_Bind", "bind-in-use"},
      {"java.net.BindException: Address already in use: connect", "port-exhaustion"},
      {"java.net.ConnectException: Connection refused", "refused"},
      {"java.net.SocketTimeoutException: Read timed out", "read-timeout"},
      {"java.io.EOFException at java.io.DataInputStream", "eof"},
      {"java.net.SocketException: Socket closed", "socket-closed"},
      {"java.net.SocketException: Connection closed by remote host", "broken-pipe"},
      {"java.net.SocketException: Permission denied", "permission"},
  };
  for (const auto& [text, scenario] : java) {
    EXPECT_EQ(First(text), scenario) << text;
  }
  // Both Linux causes of "Connection timed out".
  std::vector<std::string> timed_out = Names("java.net.SocketException: Connection timed out");
  for (const char* name : {"peer-vanished", "connect-timeout"}) {
    EXPECT_NE(std::find(timed_out.begin(), timed_out.end(), name), timed_out.end()) << name;
  }
}

TEST(Find, NothingForNonsense) {
  EXPECT_TRUE(FindScenarios("xyzzy plugh").empty());
  EXPECT_TRUE(FindScenarios("").empty());
  EXPECT_TRUE(FindScenarios("  ...  ").empty());
}

TEST(Registry, SeeAlsoNamesRealScenariosBothWays) {
  for (const Scenario& s : AllScenarios()) {
    for (const std::string& other : s.info.see_also) {
      const Scenario* o = FindScenario(other);
      ASSERT_NE(o, nullptr) << s.info.name << " -> " << other;
      EXPECT_NE(other, s.info.name);
      EXPECT_NE(std::find(o->info.see_also.begin(), o->info.see_also.end(), s.info.name),
                o->info.see_also.end())
          << other << " does not point back to " << s.info.name;
    }
  }
  auto links = [](const std::string& a, const std::string& b) {
    const std::vector<std::string>& see = FindScenario(a)->info.see_also;
    return std::find(see.begin(), see.end(), b) != see.end();
  };
  EXPECT_TRUE(links("reset", "reset-unread"));
  EXPECT_TRUE(links("reset", "broken-pipe"));
  EXPECT_TRUE(links("reset-unread", "broken-pipe"));
  EXPECT_TRUE(links("time-wait", "bind-in-use"));
  EXPECT_TRUE(links("server-restart", "time-wait"));
}

TEST(Registry, ExpectedErrnosComeFromTheExpectedLine) {
  EXPECT_EQ(ExpectedErrnos(FindScenario("unreachable")->info),
            (std::vector<int>{ENETUNREACH, EHOSTUNREACH}));
  EXPECT_EQ(ExpectedErrnos(FindScenario("reset")->info), (std::vector<int>{ECONNRESET}));
  EXPECT_TRUE(ExpectedErrnos(FindScenario("eof")->info).empty());
}

}  // namespace
}  // namespace socklab::repro
