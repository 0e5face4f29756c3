#pragma once

// examples/java/EchoClient run on the JDK the build found (SOCKLAB_JAVA, classes compiled into
// SOCKLAB_JAVA_CLASSES by tests/java/CMakeLists.txt), for the suites that meet a real JVM.

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/client/tune/run_socklab.h"

namespace socklab::testing_java {

struct JavaRun {
  std::string line;     // what EchoClient printed: "ok ..." or the exception as the JVM renders it
  int exit_code = -1;   // 0 ok, 1 an exception, 2 bad arguments, -1 killed (a signal, the timeout)
  int jdk_feature = 0;  // 17 for "jdk 17.0.15+6-...", 0 when stderr did not say
  std::string err;
};

// Runs `prefix... java EchoClient HOST PORT args...`; `prefix` is a wrapper such as prlimit or
// setpriv ({} for none).
inline JavaRun RunEchoClient(const std::vector<std::string>& prefix, const std::string& host,
                             int port, const std::vector<std::string>& args,
                             const std::vector<std::string>& jvm_flags = {}) {
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {SOCKLAB_JAVA, "-Xshare:auto", "-XX:TieredStopAtLevel=1"});
  argv.insert(argv.end(), jvm_flags.begin(), jvm_flags.end());
  argv.insert(argv.end(), {"-cp", SOCKLAB_JAVA_CLASSES, "EchoClient", host, std::to_string(port)});
  argv.insert(argv.end(), args.begin(), args.end());
  socklab::testing_tune::RunResult run = socklab::testing_tune::RunProgram(argv, 60);
  JavaRun result;
  result.line = std::string(absl::StripTrailingAsciiWhitespace(run.out));
  result.exit_code = run.exit_code;
  result.err = run.err;
  std::string jdk(absl::StripPrefix(absl::StripTrailingAsciiWhitespace(run.err), "jdk "));
  std::vector<std::string> parts = absl::StrSplit(jdk, absl::ByAnyChar(".+-"));
  if (parts.empty() || !absl::SimpleAtoi(parts[0], &result.jdk_feature)) {
    result.jdk_feature = 0;
  }
  return result;
}

}  // namespace socklab::testing_java
