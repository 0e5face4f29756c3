#include "client/tune/try_run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/base/unique_fd.h"
#include "core/net/netns.h"
#include "core/sysinfo/proc_fs.h"

namespace socklab::client {
namespace {

// A program started in the namespace, its stdout and stderr in memory files (no temporary files
// to clean up, and no pipe that could fill while nobody reads it).
struct Program {
  ChildProcess process;
  UniqueFd out;
  UniqueFd err;
};

std::string ReadMemfd(int fd) {
  std::string text;
  char buf[65536];
  for (off_t at = 0;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), at);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return text;
    }
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

// fork + exec with stdin from /dev/null; dies with its parent (the namespace's child) and gets
// `nofile` as its RLIMIT_NOFILE (soft and hard) when it is not 0.
absl::StatusOr<Program> Start(const std::vector<std::string>& argv, uint64_t nofile) {
  Program program;
  program.out = UniqueFd(memfd_create("socklab-try-out", MFD_CLOEXEC));
  program.err = UniqueFd(memfd_create("socklab-try-err", MFD_CLOEXEC));
  if (!program.out.valid() || !program.err.valid()) {
    return ErrnoError(errno, "memfd_create");
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return ErrnoError(errno, "fork");
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(126);
    }
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(program.out.get(), 1);
    dup2(program.err.get(), 2);
    if (nofile > 0) {
      rlimit limit{nofile, nofile};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        constexpr char kMessage[] = "setrlimit RLIMIT_NOFILE failed\n";
        (void)!write(2, kMessage, sizeof(kMessage) - 1);
        _exit(125);
      }
    }
    execv(args[0], args.data());
    _exit(127);
  }
  program.process = ChildProcess(pid);
  return program;
}

// A listening port the load's connects cannot take: outside the namespace's ephemeral range.
int ServerPort() {
  absl::StatusOr<std::vector<int64_t>> range =
      ProcFs().ReadSysctlInts("net.ipv4.ip_local_port_range");
  constexpr int kPreferred = 7007;
  if (!range.ok() || range->size() != 2) {
    return kPreferred;
  }
  int64_t low = (*range)[0];
  int64_t high = (*range)[1];
  if (kPreferred < low || kPreferred > high) {
    return kPreferred;
  }
  if (low > 1) {
    return static_cast<int>(low - 1);
  }
  return high < 65535 ? static_cast<int>(high + 1) : kPreferred;  // 1-65535: no port is outside
}

// Polls the server's output for "listening ADDR" (up to 10 s, or until it exits). The exit is
// checked with WNOWAIT so the ChildProcess still owns (and reaps) the process.
bool WaitUntilListening(const Program& server) {
  const int64_t deadline = MonotonicNanos() + 10'000'000'000;
  while (MonotonicNanos() < deadline) {
    if (absl::StrContains(ReadMemfd(server.out.get()), "listening ")) {
      return true;
    }
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(server.process.pid()), &info,
               WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid != 0) {
      return false;
    }
    usleep(10'000);
  }
  return false;
}

// The body of the namespace's child: the report as one JSON object.
std::string RunInNamespace(char side, const std::vector<TrySetting>& baseline,
                           const std::vector<TrySetting>& settings, const TryRunOptions& options) {
  nlohmann::json report = {
      {"error", ""}, {"load", nullptr}, {"load_exit", -1}, {"not_copied", nlohmann::json::array()}};
  for (const TrySetting& setting : baseline) {
    if (!WriteNetnsSysctl(setting.name, setting.current).ok()) {
      report["not_copied"].push_back(setting.name);
    }
  }
  uint64_t nofile = 0;
  for (const TrySetting& setting : settings) {
    const std::string& value = side == 'A' ? setting.current : setting.proposed;
    if (setting.kind == TrySetting::Kind::kNofile) {
      (void)absl::SimpleAtoi(value, &nofile);
      continue;
    }
    if (absl::Status written = WriteNetnsSysctl(setting.name, value); !written.ok()) {
      report["error"] = std::string(written.message());
      return report.dump();
    }
  }
  const std::string target = absl::StrCat("127.0.0.1:", ServerPort());
  absl::StatusOr<Program> server = Start({options.server_path, "--listen", target}, nofile);
  if (!server.ok()) {
    report["error"] = std::string(server.status().message());
    return report.dump();
  }
  if (!WaitUntilListening(*server)) {
    report["error"] = absl::StrCat("socklab-server did not start: ", ReadMemfd(server->err.get()),
                                   ReadMemfd(server->out.get()));
    return report.dump();
  }
  std::vector<std::string> argv = {options.socklab_path, "load", target};
  argv.insert(argv.end(), options.load_args.begin(), options.load_args.end());
  if (std::find(argv.begin(), argv.end(), "--states") == argv.end()) {
    argv.push_back("--states");  // the peak TIME_WAIT and other states come from its samples
  }
  argv.insert(argv.end(), {"--json", "-"});
  absl::StatusOr<Program> load = Start(argv, nofile);
  if (!load.ok()) {
    report["error"] = std::string(load.status().message());
    return report.dump();
  }
  ChildProcess::Exit exit = load->process.Wait(options.timeout);
  server->process.Kill();
  report["load_exit"] = exit.exit_code;
  report["load_err"] = ReadMemfd(load->err.get());
  if (exit.timed_out) {
    report["error"] =
        absl::StrCat("socklab load did not finish within ", absl::FormatDuration(options.timeout));
    return report.dump();
  }
  nlohmann::json result = nlohmann::json::parse(ReadMemfd(load->out.get()), nullptr, false);
  if (!result.is_discarded() && result.is_object() && !result.contains("error")) {
    report["load"] = std::move(result);
  } else if (exit.exit_code != 2) {
    report["error"] = absl::StrCat("socklab load exited ", exit.exit_code, " without a result");
  }
  return report.dump();
}

}  // namespace

TryRun RunSide(char side, const std::vector<TrySetting>& baseline,
               const std::vector<TrySetting>& settings, const TryRunOptions& options) {
  TryRun run;
  run.side = side;
  absl::StatusOr<ChildOutput> out =
      RunInChild({.new_netns = true, .timeout = options.timeout + absl::Seconds(30)},
                 [&] { return RunInNamespace(side, baseline, settings, options); });
  if (!out.ok()) {
    run.error = std::string(out.status().message());
    return run;
  }
  nlohmann::json report = nlohmann::json::parse(out->output, nullptr, false);
  if (out->exit.timed_out || report.is_discarded()) {
    run.error = out->exit.timed_out ? "the run did not finish in time" : "the run's child died";
    return run;
  }
  run.error = report.value("error", "");
  run.load_exit = report.value("load_exit", -1);
  run.load_err = report.value("load_err", "");
  run.load = report["load"];
  for (const nlohmann::json& name : report["not_copied"]) {
    run.not_copied.push_back(name.get<std::string>());
  }
  return run;
}

}  // namespace socklab::client
