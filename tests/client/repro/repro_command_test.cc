// The built `socklab repro` binary: exit codes, the table, JSON.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

struct ToolRun {
  int exit_code = -1;
  std::string out;
};

ToolRun Socklab(const std::string& args) {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  std::string command = absl::StrCat(dir != nullptr ? dir : "bin", "/socklab ", args, " 2>&1");
  ToolRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return run;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    run.out.append(buf, n);
  }
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(ReproCommand, ListNamesEveryScenario) {
  ToolRun r = Socklab("repro --list");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const char* name : {"refused", "reset-unread", "too-many-files", "port-exhaustion",
                           "simultaneous-open", "no-buffer-space"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
}

TEST(ReproCommand, UnknownScenarioIsExitTwoWithTheNames) {
  ToolRun r = Socklab("repro no-such-thing");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("socklab repro: unknown scenario 'no-such-thing'"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("broken-pipe"), std::string::npos);
  EXPECT_EQ(Socklab("repro").exit_code, 2);
}

TEST(ReproCommand, NamedScenariosPrintTheExplanationAndATable) {
  ToolRun r = Socklab("repro refused eof");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Connection refused (ECONNREFUSED)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("java.io.EOFException"), std::string::npos);
  EXPECT_NE(r.out.find("scenario"), std::string::npos);  // the table header
}

TEST(ReproCommand, AllAsJson) {
  ToolRun r = Socklab("repro --all --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["summary"]["reproduced"].get<int>(), static_cast<int>(j["scenarios"].size()));
  EXPECT_TRUE(j["machine"].contains("kernel_release") || j["machine"].is_object());
  for (const nlohmann::json& s : j["scenarios"]) {
    EXPECT_EQ(s["outcome"], "ok") << s["name"] << ": " << s["reason"];
  }
}

}  // namespace
