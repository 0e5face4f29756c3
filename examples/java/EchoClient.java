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
// --mode picks what the client does, each the Java side of a `socklab repro` scenario:
//   echo (default)    the exchange above
//   write-after-eof   the exchange, then read until the peer's EOF (read() returns -1) and, as a
//                     client that ignores it, keep writing --size bytes every 10 ms (at most
//                     1000 writes): the closed peer answers with RST, then Broken pipe
//   close-then-read   connect, close the socket, then read from it: Socket closed
//   close-while-reading  connect, read in a second thread, close the socket from the first
//                     while that read waits: the reading thread gets Socket closed
//   connect-many      open up to --connections sockets to HOST:PORT and keep them open: under
//                     a low `ulimit -n` Too many open files, with few local ports left Cannot
//                     assign requested address
//   accept-many       listen on HOST:PORT (0: any port), connect to that listener until the fd
//                     table is full, then accept: the server side of Too many open files
//   bind              bind a ServerSocket to HOST:PORT: Address already in use, Permission denied
//   udp-send          send one --size byte datagram to HOST:PORT from a DatagramSocket whose
//                     send buffer is --send-buffer bytes: No buffer space available
//
// Output (stdout): "ok ..." and exit 0, or the exception's toString() and exit 1; stderr names
// the JDK ("jdk 17.0.15+6-..."). Bad arguments: one line on stderr and exit 2.

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public final class EchoClient {
  private static final int MAX_WRITES = 1000;

  private String host;
  private int port;
  private String mode = "echo";
  private int messages = 5;
  private int size = 64;
  private int connectTimeoutMs = 2000;
  private int readTimeoutMs = 2000;
  private int connections = 100;
  private int sendBuffer = 0;

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
    System.err.println("EchoClient: " + problem + "; usage: EchoClient HOST PORT [--mode echo|"
        + "write-after-eof|close-then-read|close-while-reading|connect-many|accept-many|bind|udp-send] [--messages N] "
        + "[--size BYTES] [--connect-timeout MS] [--read-timeout MS] (0 = no timeout) "
        + "[--connections N] [--send-buffer BYTES]");
    System.exit(2);
  }

  private Socket connect() throws IOException {
    Socket socket = new Socket();
    try {
      socket.connect(new InetSocketAddress(host, port), connectTimeoutMs);
      socket.setSoTimeout(readTimeoutMs);
    } catch (IOException e) {
      socket.close();
      throw e;
    }
    return socket;
  }

  // Sends each message and reads its echo back in full; returns the result line.
  private String exchange(Socket socket) throws IOException {
    byte[] request = new byte[size];
    byte[] reply = new byte[size];
    DataOutputStream out = new DataOutputStream(socket.getOutputStream());
    DataInputStream in = new DataInputStream(socket.getInputStream());
    for (int m = 0; m < messages; m++) {
      Arrays.fill(request, (byte) ('a' + m % 26));
      out.write(request);
      out.flush();
      in.readFully(reply);
      if (!Arrays.equals(request, reply)) {
        return "mismatch in message " + (m + 1);
      }
    }
    return "ok " + messages + " messages";
  }

  private String echo() throws IOException {
    try (Socket socket = connect()) {
      return exchange(socket);
    }
  }

  private String writeAfterEof() throws IOException, InterruptedException {
    try (Socket socket = connect()) {
      String exchanged = exchange(socket);
      if (!exchanged.startsWith("ok")) {
        return exchanged;
      }
      // The peer's FIN is here before the first write: it had closed with nothing unread, so
      // its kernel answers the write with RST (not an abort before it: Connection reset).
      int read = socket.getInputStream().read();
      if (read != -1) {
        return "the peer sent more instead of closing";
      }
      OutputStream out = socket.getOutputStream();
      byte[] chunk = new byte[size];
      for (int w = 0; w < MAX_WRITES; w++) {
        out.write(chunk);
        Thread.sleep(10);
      }
      return "ok " + MAX_WRITES + " writes";
    }
  }

  private String closeThenRead() throws IOException {
    Socket socket = connect();
    InputStream in = socket.getInputStream();
    socket.close();
    return "ok read returned " + in.read();
  }

  private String closeWhileReading() throws IOException, InterruptedException {
    Socket socket = connect();
    String[] outcome = {"ok read returned nothing"};
    Thread reader = new Thread(() -> {
      try {
        outcome[0] = "ok read returned " + socket.getInputStream().read();
      } catch (IOException e) {
        outcome[0] = e.toString();
      }
    });
    reader.start();
    // Close once the reader waits in the kernel (bounded: the read timeout ends it anyway).
    for (int waited = 0; waited < 5000 && reader.getState() != Thread.State.RUNNABLE; waited++) {
      Thread.sleep(1);
    }
    Thread.sleep(200);
    socket.close();
    reader.join();
    return outcome[0];
  }

  // The sockets stay open until the process exits: closing them here would hide the exception
  // behind another one (the JVM's first close() needs a spare fd of its own, see the
  // too-many-files scenario's notes).
  private String connectMany() throws IOException {
    List<Socket> open = new ArrayList<>();
    for (int c = 0; c < connections; c++) {
      open.add(connect());
    }
    return "ok " + open.size() + " connections";
  }

  // As connectMany, the sockets stay open until the process exits.
  private String acceptMany() throws IOException {
    ServerSocket server = new ServerSocket();
    server.bind(new InetSocketAddress(host, port), connections + 1);
    List<Socket> open = new ArrayList<>();
    try {
      for (int c = 0; c < connections; c++) {
        open.add(new Socket(server.getInetAddress(), server.getLocalPort()));
      }
    } catch (IOException e) {
      // The table is full: what matters now is what accept() says.
    }
    int queued = open.size();
    for (int c = 0; c < queued; c++) {
      open.add(server.accept());
    }
    return "ok " + queued + " connections accepted";
  }

  private String bind() throws IOException {
    try (ServerSocket server = new ServerSocket()) {
      server.bind(new InetSocketAddress(host, port));
      return "ok bound " + server.getLocalSocketAddress();
    }
  }

  private String udpSend() throws IOException {
    try (DatagramSocket socket = new DatagramSocket()) {
      if (sendBuffer > 0) {
        socket.setSendBufferSize(sendBuffer);
      }
      socket.send(new DatagramPacket(new byte[size], size, new InetSocketAddress(host, port)));
      return "ok sent " + size + " bytes";
    }
  }

  public static void main(String[] args) {
    if (args.length < 2) {
      usage("HOST and PORT are required");
    }
    EchoClient client = new EchoClient();
    client.host = args[0];
    client.port = intArg(args, 1, "PORT");
    for (int i = 2; i < args.length; i += 2) {
      switch (args[i]) {
        case "--mode" -> {
          if (i + 1 >= args.length) {
            usage("--mode needs a value");
          }
          client.mode = args[i + 1];
        }
        case "--messages" -> client.messages = intArg(args, i + 1, args[i]);
        case "--size" -> client.size = intArg(args, i + 1, args[i]);
        case "--connect-timeout" -> client.connectTimeoutMs = intArg(args, i + 1, args[i]);
        case "--read-timeout" -> client.readTimeoutMs = intArg(args, i + 1, args[i]);
        case "--connections" -> client.connections = intArg(args, i + 1, args[i]);
        case "--send-buffer" -> client.sendBuffer = intArg(args, i + 1, args[i]);
        default -> usage("unknown argument '" + args[i] + "'");
      }
    }
    // Which JDK's texts these are: since JDK 13 the socket implementation is NioSocketImpl
    // (JEP 353), whose messages differ from the old PlainSocketImpl's in places.
    System.err.println("jdk " + Runtime.version());
    try {
      String result = switch (client.mode) {
        case "echo" -> client.echo();
        case "write-after-eof" -> client.writeAfterEof();
        case "close-then-read" -> client.closeThenRead();
        case "close-while-reading" -> client.closeWhileReading();
        case "connect-many" -> client.connectMany();
        case "accept-many" -> client.acceptMany();
        case "bind" -> client.bind();
        case "udp-send" -> client.udpSend();
        default -> {
          usage("unknown --mode '" + client.mode + "'");
          yield "";
        }
      };
      System.out.println(result);
      System.exit(result.startsWith("ok") ? 0 : 1);
    } catch (IOException | InterruptedException e) {
      System.out.println(e);
      System.exit(1);
    }
  }
}
