#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "client/repro/scenarios/scenarios.h"
#include "client/repro/sock_util.h"

namespace socklab::repro {
namespace {

constexpr uid_t kNobody = 65534;

void Run(Recorder& rec) {
  // The threshold is per namespace: set it here so the result does not depend on the host.
  if (!SetNamespaceSysctl(rec, "net.ipv4.ip_unprivileged_port_start", "1024")) {
    return;
  }
  rec.Step("drop privileges: this child becomes uid/gid 65534 (nobody), losing every capability");
  CallResult g = rec.Call("setgroups(0, NULL)", [] { return setgroups(0, nullptr); });
  CallResult gid = rec.Call("setresgid(65534, 65534, 65534)",
                            [] { return setresgid(kNobody, kNobody, kNobody); });
  CallResult uid = rec.Call("setresuid(65534, 65534, 65534)",
                            [] { return setresuid(kNobody, kNobody, kNobody); });
  if (g.failed() || gid.failed() || uid.failed()) {
    return rec.Fail("could not drop privileges");
  }
  UniqueFd fd = OpenTcpSocket(rec, "server");
  if (rec.stopped()) {
    return;
  }
  CallResult b = BindLoopback(rec, fd.get(), 80, "server");
  rec.CheckErrno("bind to port 80 as an unprivileged user", Phase::kBind, EACCES, b);
  rec.States("after the refused bind: the socket is still unbound", {{"server", fd.get()}});
  CallResult ok = BindLoopback(rec, fd.get(), 8080, "server");
  rec.CheckOk("bind to port 8080 (above ip_unprivileged_port_start)", Phase::kBind, ok);
  if (!ok.failed() && !rec.Call(absl::StrCat("server: listen(fd ", fd.get(), ", 16)"),
                                [&] { return listen(fd.get(), 16); })
                           .failed()) {
    rec.States("bound to 8080 and listening, without privileges", {{"server", fd.get()}}, {8080});
  }
}

}  // namespace

Scenario PermissionScenario() {
  return {{.name = "permission",
           .title = "an unprivileged process binds a port below 1024",
           .expected = "EACCES on bind",
           .wire = "no packet",
           .java = "JDK 13+ (NioSocketImpl): java.net.BindException: Permission denied; "
                   "older JDKs: java.net.SocketException: Permission denied",
           .cause = "Ports below net.ipv4.ip_unprivileged_port_start (1024 by default) need "
                    "CAP_NET_BIND_SERVICE. A process running as an ordinary user, or a root "
                    "process that dropped its capabilities, gets EACCES from bind().",
           .fix_code = "Listen on a port >= 1024 behind a proxy or a port redirect; or grant only "
                       "the capability: setcap cap_net_bind_service=+ep BINARY (systemd: "
                       "AmbientCapabilities=CAP_NET_BIND_SERVICE); bind before dropping "
                       "privileges.",
           .kernel = {{"net.ipv4.ip_unprivileged_port_start",
                       "lower it to allow everyone (per network namespace): "
                       "sysctl -w net.ipv4.ip_unprivileged_port_start=80"}},
           .needs_netns = true,
           .needs_root = true},
          &Run};
}

}  // namespace socklab::repro
