#include "client/repro/other_systems.h"

namespace socklab::repro {

const std::vector<OtherSystemText>& OtherSystemTexts() {
  static const std::vector<OtherSystemText>* const kTexts = new std::vector<OtherSystemText>{
      {"java.net.BindException: Address already in use: connect",
       "Windows: connect() failed with WSAEADDRINUSE (10048), and the JDK's Windows socket code "
       "appends the call's name (\": connect\"); Windows answers so when no local port is free "
       "for that destination (ephemeral ports exhausted, typically by TIME_WAIT)",
       "port-exhaustion", "EADDRNOTAVAIL \"Cannot assign requested address\" on connect"},
      {"java.net.SocketException: Connection closed by remote host",
       "Java itself, not the kernel: the TLS socket of JDK 8 and older (SSLSocketImpl.checkWrite) "
       "throws it for a write after the peer closed the connection; no syscall failed, and "
       "newer JDKs word it otherwise (JDK 17's java.base has no such text)",
       "broken-pipe",
       "EPIPE \"Broken pipe\" on the write after the peer's RST (the peer's FIN before it: eof)"},
  };
  return *kTexts;
}

}  // namespace socklab::repro
