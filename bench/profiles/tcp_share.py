#!/usr/bin/env python3
"""How much of a process's CPU is TCP's own work, from `perf record -g` profiles.

A sample counts as TCP's work when tcp_sendmsg or tcp_recvmsg is on its stack: the copies, the
segment's way down and (on loopback) the peer's whole receive path, run in our softirq. Any echo
server or ping-pong client pays that per message whatever its event loop; the rest of its CPU
(the wait, syscall entry, the loop, the program itself) is what a faster program can cut. So the
share is a floor: a program whose TCP work costs S of the baseline's CPU per message cannot get
below S x the baseline's CPU per message, however little else it does.

    perf record -g -p SERVER_PID -o FILE -- sleep 3   (while bench/baseline's client drives it)
    bench/profiles/tcp_share.py FILE... [--top N]

Prints, per file, the samples, the TCP share, and the leaf functions of the rest.
"""
import argparse
import collections
import subprocess
import sys

TCP_WORK = {"tcp_sendmsg", "tcp_recvmsg"}


def stacks(path):
    """Yields each sample's stack (leaf first) as function names."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"], capture_output=True,
                         text=True, check=True).stdout
    stack = []
    for line in out.splitlines():
        fields = line.split()
        if not fields:
            if stack:
                yield stack
            stack = []
            continue
        # "ADDR SYMBOL (DSO)", or "ADDR [unknown] (DSO)" for code without symbols: name the DSO.
        stack.append(fields[1] if len(fields) > 2 and fields[1] != "[unknown]" else fields[-1])
    if stack:
        yield stack


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=15, help="leaf functions listed outside TCP")
    args = parser.parse_args()
    for path in args.files:
        total = tcp = 0
        rest = collections.Counter()
        for stack in stacks(path):
            total += 1
            if TCP_WORK.intersection(stack):
                tcp += 1
            else:
                rest[stack[0]] += 1
        if total == 0:
            sys.exit(f"{path}: no samples")
        print(f"{path}: {total} samples, {100 * tcp / total:.1f}% under tcp_sendmsg/tcp_recvmsg")
        for function, n in rest.most_common(args.top):
            print(f"  {100 * n / total:5.2f}%  {function}")


if __name__ == "__main__":
    main()
