// A plain java.net.Socket echo client, as the classic tutorials write one: connect with a
// timeout, set a read timeout, send each message and read its echo back in full with
// DataInputStream.readFully. Point it at socklab-server --fault ... to see what your own client
// meets: it prints the exception it gets as the JVM renders it ("class: message").
//
//   javac -d /tmp/echo examples/java/EchoClient.java
//   java -cp /tmp/echo EchoClient 127.0.0.1 7007 --messages 5 --size 64 \
//       --connect-timeout 1000 --read-timeout 1000
//   (or, without javac: java examples/java/EchoClient.java 127.0.0.1 7007 ...)
//
// Output (stdout): "ok N messages" and exit 0, or the exception's toString() and exit 1; stderr
// names the JDK ("jdk 17.0.15+6-...").
// Bad arguments: one line on stderr and exit 2.

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Arrays;

public final class EchoClient {
  private static int intArg(String[] args, int i, String name) {
    if (i >= args.length) {
      usage(name + " needs a value");
    }
    try {
      int v = Integer.parseInt(args[i]);
      if (v < 0) {
        usage(name + " " + args[i] + " is negative");
      }
      return v;
    } catch (NumberFormatException e) {
      usage("bad " + name + " value '" + args[i] + "'");
      return 0;
    }
  }

  private static void usage(String problem) {
    System.err.println("EchoClient: " + problem + "; usage: EchoClient HOST PORT [--messages N] "
        + "[--size BYTES] [--connect-timeout MS] [--read-timeout MS] (0 = no timeout)");
    System.exit(2);
  }

  public static void main(String[] args) {
    if (args.length < 2) {
      usage("HOST and PORT are required");
    }
    String host = args[0];
    int port = intArg(args, 1, "PORT");
    int messages = 5;
    int size = 64;
    int connectTimeoutMs = 2000;
    int readTimeoutMs = 2000;
    for (int i = 2; i < args.length; i += 2) {
      switch (args[i]) {
        case "--messages" -> messages = intArg(args, i + 1, args[i]);
        case "--size" -> size = intArg(args, i + 1, args[i]);
        case "--connect-timeout" -> connectTimeoutMs = intArg(args, i + 1, args[i]);
        case "--read-timeout" -> readTimeoutMs = intArg(args, i + 1, args[i]);
        default -> usage("unknown argument '" + args[i] + "'");
      }
    }
    // Which JDK's texts these are: since JDK 13 the socket implementation is NioSocketImpl
    // (JEP 353), whose messages differ from the old PlainSocketImpl's in places.
    System.err.println("jdk " + Runtime.version());
    byte[] request = new byte[size];
    byte[] reply = new byte[size];
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), connectTimeoutMs);
      socket.setSoTimeout(readTimeoutMs);
      DataOutputStream out = new DataOutputStream(socket.getOutputStream());
      DataInputStream in = new DataInputStream(socket.getInputStream());
      for (int m = 0; m < messages; m++) {
        Arrays.fill(request, (byte) ('a' + m % 26));
        out.write(request);
        out.flush();
        in.readFully(reply);
        if (!Arrays.equals(request, reply)) {
          System.out.println("mismatch in message " + (m + 1));
          System.exit(1);
        }
      }
      System.out.println("ok " + messages + " messages");
    } catch (IOException e) {
      System.out.println(e);
      System.exit(1);
    }
  }
}
