#!/usr/bin/env python3
"""End-to-end comparison of socklab-server's backends under socklab load.

Runs socklab-server on loopback with --backend epoll and then io_uring for every cell of the
matrix connections {1, 64, 1000} x message size {64, 4096}, drives each with the same
`socklab load` (closed loop, the client's backend fixed so only the server changes), and prints
msgs/s and p99 per cell plus the io_uring/epoll ratios measured in this one run. The machine,
kernel and flags are printed with the table. Run by hand (not by ctest):

    bench/e2e/run_e2e.py [--bin build/bin] [--duration 5s] [--warmup 1s] [--repeat 3]
                         [--markdown FILE]

With --repeat N every cell is measured N times, the backends interleaved within each repetition
(their order alternating from one repetition to the next, so neither always runs first, on a
cooler or hotter machine). Each backend's msgs/s and p99 in a cell are the MEDIAN of its N runs
(robust to one disturbed run in either direction, where the best would reward a lucky run), and
the ratios are of those medians; the spread (min-max) of each is printed with the table.

Both programs share the machine's CPUs; compare ratios within one run, not absolute numbers
across machines.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

CONNECTIONS = [1, 64, 1000]
SIZES = [64, 4096]
BACKENDS = ["epoll", "io_uring"]


def start_server(bin_dir, backend, threads):
    cmd = [os.path.join(bin_dir, "socklab-server"), "-l", "127.0.0.1:0", "--backend", backend,
           "-t", str(threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for _ in range(20):
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening "):
            return proc, line.split()[1], cmd
    proc.kill()
    sys.exit(f"socklab-server --backend {backend} did not start")


def run_load(bin_dir, target, connections, size, args):
    cmd = [os.path.join(bin_dir, "socklab"), "load", target, "-c", str(connections), "-s",
           str(size), "-d", args.duration, "--warmup", args.warmup, "-t",
           str(args.client_threads), "--backend", args.client_backend, "--json", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr}")
    return json.loads(out.stdout), cmd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "../../build/bin"))
    parser.add_argument("--duration", default="5s")
    parser.add_argument("--warmup", default="1s")
    parser.add_argument("--server-threads", type=int, default=1)
    parser.add_argument("--client-threads", type=int, default=1)
    parser.add_argument("--client-backend", default="epoll")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per cell and backend, interleaved; the median is reported")
    parser.add_argument("--markdown", help="also write the table as markdown to this file")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    runs = {}  # (connections, size, backend) -> [(rate, p99, errors), ...]
    machine = None
    commands = {}
    for connections in CONNECTIONS:
        for size in SIZES:
            for rep in range(args.repeat):
                order = BACKENDS if rep % 2 == 0 else list(reversed(BACKENDS))
                for backend in order:
                    server, target, server_cmd = start_server(args.bin, backend,
                                                              args.server_threads)
                    try:
                        report, load_cmd = run_load(args.bin, target, connections, size, args)
                    finally:
                        server.terminate()
                        server.wait(timeout=10)
                    machine = machine or report["machine"]
                    commands[backend] = server_cmd
                    commands["load"] = load_cmd
                    p99 = report["latency_ns"]["p99"]
                    rate = report["throughput"]["messages_per_s"]
                    errors = report["errors"]["total"]  # data errors included
                    runs.setdefault((connections, size, backend), []).append((rate, p99, errors))
                    print(f"c={connections:<5} size={size:<5} {backend:<9} run {rep + 1}/"
                          f"{args.repeat} {rate:>10.0f} msg/s  p99 {p99 / 1000:>8.0f} us  "
                          f"errors {errors}", file=sys.stderr)
                    time.sleep(0.2)

    # Per cell and backend: median msgs/s, median p99 (each over the repetitions on its own),
    # total errors, and the min-max spread of both.
    results = {}
    for key, cell_runs in runs.items():
        rates = [r[0] for r in cell_runs]
        p99s = [r[1] for r in cell_runs]
        results[key] = (statistics.median(rates), statistics.median(p99s),
                        sum(r[2] for r in cell_runs), (min(rates), max(rates)),
                        (min(p99s), max(p99s)))

    lines = []
    lines.append(f"machine: {platform.node()}, kernel {machine['kernel_release']}, "
                 f"{machine['cpus']} CPUs, {platform.processor() or platform.machine()}")
    lines.append(f"server: socklab-server -l 127.0.0.1:0 --backend epoll|io_uring "
                 f"-t {args.server_threads}")
    lines.append("load:   " + " ".join(os.path.basename(c) if i == 0 else c
                                       for i, c in enumerate(commands["load"]))
                 .replace(commands["load"][2], "127.0.0.1:PORT")
                 .replace(f"-c {CONNECTIONS[-1]}", "-c C").replace(f"-s {SIZES[-1]}", "-s S"))
    if args.repeat > 1:
        lines.append(f"repeat: {args.repeat} runs per cell and backend, interleaved (order "
                     f"alternating); each figure is the median of its runs, ratios are of the "
                     f"medians")
    lines.append("")
    lines.append("| conns | size | epoll msg/s | io_uring msg/s | msg/s io_uring/epoll "
                 "| epoll p99 | io_uring p99 | p99 io_uring/epoll |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    spreads = []
    for connections in CONNECTIONS:
        for size in SIZES:
            e_rate, e_p99, e_err, e_rates, e_p99s = results[(connections, size, "epoll")]
            u_rate, u_p99, u_err, u_rates, u_p99s = results[(connections, size, "io_uring")]
            note = "" if e_err + u_err == 0 else f" (errors: {e_err}/{u_err})"
            lines.append(f"| {connections} | {size} | {e_rate:,.0f} | {u_rate:,.0f} | "
                         f"{u_rate / max(e_rate, 1):.2f} | {e_p99 / 1000:,.0f} us | "
                         f"{u_p99 / 1000:,.0f} us | {u_p99 / max(e_p99, 1):.2f} |{note}")
            spreads.append(f"c={connections} size={size}: msg/s epoll {e_rates[0]:,.0f}-"
                           f"{e_rates[1]:,.0f}, io_uring {u_rates[0]:,.0f}-{u_rates[1]:,.0f}; "
                           f"p99 epoll {e_p99s[0] / 1000:,.0f}-{e_p99s[1] / 1000:,.0f} us, "
                           f"io_uring {u_p99s[0] / 1000:,.0f}-{u_p99s[1] / 1000:,.0f} us")
    if args.repeat > 1:
        lines.append("")
        lines.append(f"spread over the {args.repeat} runs (min-max):")
        lines.extend(f"- {s}" for s in spreads)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
