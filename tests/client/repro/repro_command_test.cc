// The built `socklab repro` binary: exit codes, the table, JSON.
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/errno_name.h"
#include "core/base/version.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/shell.h"

namespace {

using ToolRun = socklab::testing::ShellRun;

ToolRun Socklab(const std::string& args) {
  const char* dir = std::getenv("SOCKLAB_BIN_DIR");
  std::string redirect = args.find("2>/dev/null") == std::string::npos ? " 2>&1" : "";
  std::string command = absl::StrCat(dir != nullptr ? dir : "bin", "/socklab ", args, redirect);
  return socklab::testing::RunShell(command);
}

// stdout alone (stderr dropped): what a program reading --json gets.
ToolRun SocklabStdout(const std::string& args) {
  return Socklab(absl::StrCat(args, " 2>/dev/null"));
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

// Neither needs root or a namespace.
TEST(ReproCommand, NamedScenariosPrintTheExplanationAndATable) {
  ToolRun r = Socklab("repro refused eof");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Connection refused (ECONNREFUSED)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("java.io.EOFException"), std::string::npos);
  EXPECT_NE(r.out.find("scenario"), std::string::npos);  // the table header
}

// --pcap writes a file tshark reads (the scenario suite compares the flags); a place that does
// not exist is bad usage.
TEST(ReproCommand, PcapWritesAFileOrSaysWhereIsWrong) {
  char dir[] = "/tmp/socklab-repro-cmd-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = absl::StrCat(dir, "/refused.pcap");
  ToolRun r = Socklab(absl::StrCat("repro refused --pcap ", path));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  if (r.out.find("not captured") == std::string::npos) {
    EXPECT_NE(r.out.find(absl::StrCat("written to ", path)), std::string::npos) << r.out;
    EXPECT_EQ(access(path.c_str(), R_OK), 0);
  }
  unlink(path.c_str());
  rmdir(dir);
  ToolRun bad = Socklab("repro refused --pcap /nonexistent-dir/x.pcap");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("no directory /nonexistent-dir"), std::string::npos) << bad.out;
  ToolRun several = Socklab("repro refused eof --pcap /tmp/one-file.pcap");
  EXPECT_EQ(several.exit_code, 2) << several.out;
}

// The whole run, as CI runs it; the suite's ctest TIMEOUT bounds it (under two minutes).
TEST(ReproCommand, AllAsJson) {
  ToolRun r = Socklab("repro --all --json");
  const bool root = geteuid() == 0;
  // Without root the namespaced scenarios are skipped (exit 3), never passed.
  EXPECT_EQ(r.exit_code, root ? 0 : 3) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_TRUE(j["machine"].is_object());
  EXPECT_TRUE(j["machine"].contains("kernel_release")) << j["machine"].dump();
  const nlohmann::json& summary = j["summary"];
  EXPECT_EQ(summary["not_reproduced"].get<int>(), 0);
  EXPECT_EQ(summary["error"].get<int>(), 0);
  EXPECT_EQ(summary["reproduced"].get<int>() + summary["skipped"].get<int>(),
            static_cast<int>(j["scenarios"].size()));
  for (const nlohmann::json& s : j["scenarios"]) {
    if (root || s["outcome"] != "skipped") {
      EXPECT_EQ(s["outcome"], "ok") << s["name"] << ": " << s["reason"];
    }
  }
  if (!root) {
    GTEST_SKIP() << "not root: " << summary["skipped"].get<int>() << " scenarios skipped";
  }
}

TEST(ReproCommand, ListColumnsLineUp) {
  ToolRun r = Socklab("repro --list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Every title starts in the same column, however long a scenario's "expected" text is.
  size_t title_column = std::string::npos;
  for (const char* row : {"refused ", "client-port-in-use ", "connect-timeout "}) {
    size_t at = r.out.find(absl::StrCat("\n", row));
    if (at == std::string::npos && r.out.rfind(row, 0) == 0) {
      at = 0;
    } else if (at != std::string::npos) {
      ++at;
    }
    ASSERT_NE(at, std::string::npos) << row << " in " << r.out;
    std::string line = r.out.substr(at, r.out.find('\n', at) - at);
    // The title follows the last run of two or more blanks.
    size_t gap = line.rfind("  ");
    ASSERT_NE(gap, std::string::npos) << line;
    size_t column = line.find_first_not_of(' ', gap);
    if (title_column == std::string::npos) {
      title_column = column;
    }
    EXPECT_EQ(column, title_column) << line;
  }
}

// The strerror texts a log shows are in --list (this machine's strerror, not copies).
TEST(ReproCommand, ListShowsTheErrnoTexts) {
  ToolRun r = Socklab("repro --list");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (int err : {ECONNRESET, EMFILE, EADDRNOTAVAIL, EADDRINUSE}) {
    EXPECT_NE(r.out.find(absl::StrCat("\"", socklab::ErrnoMessage(err), "\"")), std::string::npos)
        << socklab::ErrnoMessage(err);
  }
}

TEST(ReproCommand, ListAsJson) {
  ToolRun r = SocklabStdout("repro --list --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_TRUE(j["scenarios"].is_array());
  bool reset = false;
  for (const nlohmann::json& s : j["scenarios"]) {
    if (s["name"] == "reset") {
      reset = true;
      ASSERT_EQ(s["errors"].size(), 1u);
      EXPECT_EQ(s["errors"][0]["errno"], "ECONNRESET");
      EXPECT_EQ(s["errors"][0]["text"], socklab::ErrnoMessage(ECONNRESET));
      EXPECT_FALSE(s["see_also"].empty());
    }
  }
  EXPECT_TRUE(reset) << r.out;
}

TEST(ReproCommand, FindFromASymptom) {
  ToolRun r = Socklab(absl::StrCat("repro --find '", socklab::ErrnoMessage(EMFILE), "'"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("too-many-files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run one: socklab repro too-many-files"), std::string::npos) << r.out;
  ToolRun json = SocklabStdout("repro --find 'java.net.SocketException: Connection reset' --json");
  ASSERT_EQ(json.exit_code, 0) << json.out;
  nlohmann::json j = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json.out;
  ASSERT_FALSE(j["matches"].empty());
  EXPECT_EQ(j["matches"][0]["name"], "reset");
  // Nothing found: exit 1, and with --json still one JSON object on stdout.
  EXPECT_EQ(Socklab("repro --find xyzzy").exit_code, 1);
  ToolRun none = SocklabStdout("repro --find xyzzy --json");
  EXPECT_EQ(none.exit_code, 1);
  nlohmann::json error = nlohmann::json::parse(none.out, nullptr, false);
  ASSERT_TRUE(error.is_object()) << none.out;
  EXPECT_EQ(error["exit_code"], 1);
  // --find runs nothing: with scenario names it is bad usage.
  EXPECT_EQ(Socklab("repro --find reset eof").exit_code, 2);
}

// With --json, every error is one JSON object on stdout, whichever stage found it.
TEST(ReproCommand, JsonErrorsAreJsonOnStdout) {
  for (const char* args :
       {"repro no-such-thing --json", "repro --json", "repro --bogus --json", "lod --json",
        "tune --plan --json", "tune --root /nonexistent --json", "states --state nosuch --json"}) {
    ToolRun r = SocklabStdout(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << args << ": " << r.out;
    EXPECT_TRUE(j["error"].is_string()) << args << ": " << r.out;
    EXPECT_EQ(j["exit_code"], 2) << args;
  }
}

TEST(Socklab, VersionAndUnknownCommands) {
  ToolRun version = Socklab("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, absl::StrCat("socklab ", std::string(socklab::Version()), "\n"));
  ToolRun typo = Socklab("lod");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.out.find("unknown command 'lod'; did you mean 'load'?"), std::string::npos)
      << typo.out;
  for (const char* command : {"load", "report", "repro", "states", "trace", "tune"}) {
    EXPECT_NE(typo.out.find(command), std::string::npos) << typo.out;
  }
  ToolRun far = Socklab("frobnicate");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.out.find("did you mean"), std::string::npos) << far.out;
  EXPECT_NE(
      far.out.find("unknown command 'frobnicate'; the commands are load, merge, report, repro, "
                   "states, trace, tune; run 'socklab --help'"),
      std::string::npos)
      << far.out;
}

}  // namespace
