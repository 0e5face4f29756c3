#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"
#include "core/net/socket.h"

namespace socklab::repro {
namespace {

// The highest fd number open in this process (the child inherits whatever its parent had).
int HighestOpenFd() {
  int highest = 2;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 64;
  }
  while (dirent* e = readdir(dir)) {
    highest = std::max(highest, atoi(e->d_name));
  }
  closedir(dir);
  return highest;
}

void Run(Recorder& rec) {
  CallResult spare_call = rec.Call("server: open(\"/dev/null\") as a spare fd",
                                   [] { return open("/dev/null", O_RDONLY | O_CLOEXEC); });
  UniqueFd spare(static_cast<int>(spare_call.ret));
  UniqueFd listener = OpenListener(rec, "server", 16);
  if (rec.stopped()) {
    return;
  }
  UniqueFd client = ConnectLoopback(rec, "client", LocalPort(listener.get()));
  if (rec.stopped()) {
    return;
  }
  // Nonblocking, so an accept that finds nothing can never hang the scenario.
  SetNonBlocking(listener.get(), true).IgnoreError();
  rec.Step("the client's connection is complete and waits in the listener's accept queue");

  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  rlim_t low = static_cast<rlim_t>(HighestOpenFd() + 1 + 4);
  rlimit lowered{low, limit.rlim_max};
  rec.Call(absl::StrCat("setrlimit(RLIMIT_NOFILE, {soft ", low, "}) (this child process only)"),
           [&] { return setrlimit(RLIMIT_NOFILE, &lowered); });

  // Fill the table silently (the steps would be hundreds of lines), bounded by the limit; the
  // one recorded socket() below is the first call that cannot get an fd.
  std::vector<UniqueFd> hog;
  for (rlim_t i = 0; i < low + 8; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
      break;
    }
    hog.emplace_back(fd);
  }
  rec.Step(absl::StrCat("opened ", hog.size(), " more sockets until the table was full"));
  CallResult last = rec.Call("socket(AF_INET, SOCK_STREAM)", [] {
    return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  });
  UniqueFd unexpected(last.failed() ? -1 : static_cast<int>(last.ret));
  rec.CheckErrno("socket", Phase::kSocket, EMFILE, last);

  CallResult a = rec.Call(absl::StrCat("server: accept(fd ", listener.get(), ")"),
                          [&] { return accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC); });
  UniqueFd accepted_bad(a.failed() ? -1 : static_cast<int>(a.ret));
  rec.CheckErrno("accept", Phase::kAccept, EMFILE, a);
  rec.Step(
      "the connection stays in the accept queue: a level-triggered poll/epoll reports the "
      "listener readable again at once, so a naive server spins at 100% CPU");
  rec.States("while the server is out of fds", {{"client", client.get()}});

  rec.Step(
      "how a server survives: close the spare fd, accept the connection, close it at once "
      "(the client gets a clean EOF instead of hanging), reopen the spare");
  CloseFd(rec, "server", spare);
  CallResult a2 = rec.Call(absl::StrCat("server: accept(fd ", listener.get(), ")"),
                           [&] { return accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC); });
  rec.CheckOk("accept after releasing the spare fd", Phase::kAccept, a2);
  UniqueFd accepted(a2.failed() ? -1 : static_cast<int>(a2.ret));
  if (accepted.valid()) {
    CloseFd(rec, "server", accepted);
  }
  spare.Reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
  RecvSome(rec, "client", client.get());
  hog.clear();
  rec.Call("setrlimit(RLIMIT_NOFILE) back to the original soft limit",
           [&] { return setrlimit(RLIMIT_NOFILE, &limit); });
}

}  // namespace

Scenario TooManyFilesScenario() {
  return {{.name = "too-many-files",
           .title = "RLIMIT_NOFILE reached: socket() and accept() fail",
           .expected = "EMFILE on socket and on accept",
           .wire = "> SYN, < SYN/ACK, > ACK",
           .java = "JDK 13+ (NioSocketImpl): java.net.SocketException: Too many open files; "
                   "JDK 13+ (NioSocketImpl), accept: java.io.IOException: Too many open files; "
                   "unlike a C program, HotSpot raises its soft RLIMIT_NOFILE to the hard limit "
                   "at start (-XX:+MaxFDLimit), so `ulimit -n` must lower both; and the JVM's "
                   "first socket close() needs an fd of its own (a socketpair it dup2()s over "
                   "closing fds): with none left it throws "
                   "java.lang.ExceptionInInitializerError instead",
           .cause = "Every socket is a file descriptor, and the process may hold at most "
                    "RLIMIT_NOFILE of them (ulimit -n; 1024 is a common default soft limit). "
                    "Usually the fds leak (sockets never closed, CLOSE_WAIT piles up) or the limit "
                    "is too low for the number of connections.",
           .fix_code = "Close every socket (try-with-resources / RAII); raise the soft limit at "
                       "startup up to the hard limit (setrlimit; systemd LimitNOFILE=, "
                       "/etc/security/limits.conf); servers keep a spare fd to accept-and-close "
                       "on EMFILE and back off instead of spinning.",
           .kernel = {{"fs.file-max",
                       "the system-wide ceiling (ENFILE when reached): "
                       "sysctl -w fs.file-max=N"},
                      {"fs.nr_open",
                       "the ceiling for any RLIMIT_NOFILE hard limit: "
                       "sysctl -w fs.nr_open=N"}},
           .see_also = {"close-wait-leak"}},
          &Run};
}

}  // namespace socklab::repro
