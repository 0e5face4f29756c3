#!/usr/bin/env python3
"""A plain socket echo client, as Python tutorials write one (standard library only).

Connects with a timeout, sets a read timeout, sends each message with sendall() and reads its
echo back in full. Point it at socklab-server --fault ... to see what your own client meets: it
prints the exception it gets as "Class ERRNO: str(exception)" (ERRNO is "-" when the exception
carries none, as for a timeout or an EOF).

    python3 examples/python/echo_client.py 127.0.0.1 7007 --messages 5 --size 64 \\
        --connect-timeout 1 --read-timeout 1

--mode write-after-eof: the exchange, then read until the peer's EOF (recv() returns b"") and,
as a client that ignores it, keep writing --size bytes every 10 ms (at most 1000 writes): the
closed peer answers with RST, then BrokenPipeError.

Output (stdout): "ok ..." and exit 0, or the exception and exit 1; stderr names the Python.
Bad arguments: one line on stderr and exit 2.
"""

import argparse
import errno
import socket
import sys
import time

MAX_WRITES = 1000


def recv_exactly(sock, n):
    """The n bytes of one echo; EOFError when the peer closes first (recv() returns b"")."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"the peer closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def exchange(sock, messages, size):
    for m in range(messages):
        request = bytes([ord("a") + m % 26]) * size
        sock.sendall(request)
        if recv_exactly(sock, size) != request:
            return f"mismatch in message {m + 1}"
    return f"ok {messages} messages"


def run(args):
    timeout = args.connect_timeout if args.connect_timeout > 0 else None
    with socket.create_connection((args.host, args.port), timeout=timeout) as sock:
        sock.settimeout(args.read_timeout if args.read_timeout > 0 else None)
        result = exchange(sock, args.messages, args.size)
        if args.mode == "echo" or not result.startswith("ok"):
            return result
        # The peer's FIN is here before the first write: it had closed with nothing unread, so
        # its kernel answers the write with RST (not an abort before it: ConnectionResetError).
        if sock.recv(1) != b"":
            return "the peer sent more instead of closing"
        chunk = bytes(args.size)
        for _ in range(MAX_WRITES):
            sock.sendall(chunk)
            time.sleep(0.01)
        return f"ok {MAX_WRITES} writes"


def describe(e):
    code = getattr(e, "errno", None)
    name = errno.errorcode.get(code, "-") if code else "-"
    return f"{type(e).__name__} {name}: {e}"


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem and the usage, exit 2."""

    def error(self, message):
        usage = " ".join(self.format_usage().split()[1:])
        self.exit(2, f"echo_client.py: {message}; usage: {usage}\n")


def main():
    parser = OneLineParser(description="A plain socket echo client.")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--mode", choices=["echo", "write-after-eof"], default="echo")
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--connect-timeout", type=float, default=2, help="seconds, 0 = none")
    parser.add_argument("--read-timeout", type=float, default=2, help="seconds, 0 = none")
    args = parser.parse_args()  # bad arguments: one line and exit 2
    print(f"python {sys.version.split()[0]}", file=sys.stderr)
    try:
        result = run(args)
    except (OSError, EOFError) as e:
        print(describe(e))
        return 1
    print(result)
    return 0 if result.startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
