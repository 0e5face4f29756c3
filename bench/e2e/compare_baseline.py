#!/usr/bin/env python3
"""socklab-server and socklab load against the simplest fast programs (bench/baseline/).

Two comparisons, interleaved in one run, with the server pinned to one CPU and the client to the
other:
  server: baseline_echo_server vs socklab-server --backend epoll|io_uring -t 1, all driven by
          baseline_pingpong_client; baseline_uring_echo_server ("uring-baseline") runs beside
          them as the floor of any io_uring echo server on this kernel;
  client: baseline_pingpong_client vs socklab load --backend epoll|io_uring -t 1, all against
          baseline_echo_server; baseline_uring_pingpong_client ("uring-baseline") runs beside
          them as the floor of any io_uring client on this kernel.
Cells: connections {1, 50, 500, 5000} x message size {64, 16384}, plus churn (one connection per
message; both clients connect from CHURN_SOURCES local addresses in turn, so the TIME_WAITs of
earlier runs do not cap the rate at what one address's port range allows). Per run: messages/s,
p50/p99 as the client measured them, and the CPU the program under test spent per message: its
whole process's on-CPU time (all threads, from /proc/PID/stat, or the child's rusage for a
client) over the messages of the run. Figures are medians over --repeat runs (order rotated
every repetition); ratios are to the baseline's median in the same cell, and beside each the
least and greatest ratio of one repetition's run to the baseline's run in that repetition (a
range across 1.00 means this run cannot tell the two apart). Run by hand, on a quiet machine:

    bench/e2e/compare_baseline.py [--bin build/bin] [--bench build/bench] [--duration 4]
                                  [--repeat 5] [--cells 50x64,500x64] [--markdown FILE]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CONNECTIONS = [1, 50, 500, 5000]
CHURN_SOURCES = "127.0.0.2-127.0.0.33"  # the addresses baseline_pingpong_client --churn rotates
SIZES = [64, 16384]
SERVER_CPU, CLIENT_CPU = 0, 1
TICKS = os.sysconf("SC_CLK_TCK")


def pinned(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


def process_cpu_s(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_server(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=pinned(SERVER_CPU))
    for _ in range(50):
        line = proc.stdout.readline()
        if line.startswith("listening "):
            return proc, int(line.split()[1].rsplit(":", 1)[1])
    proc.kill()
    sys.exit(f"{' '.join(cmd)} did not start")


def run_client(cmd):
    """Runs a client to its end; returns (stdout, its CPU seconds from rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         preexec_fn=pinned(CLIENT_CPU))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out.stdout, cpu


def baseline_client(args, port, conns, size, churn, program="baseline_pingpong_client"):
    cmd = [os.path.join(args.bench, program), str(port), str(conns), str(size),
           str(args.duration), "0"] + (["--churn"] if churn else [])
    stdout, cpu = run_client(cmd)
    r = json.loads(stdout)
    return dict(messages=r["messages"], connections=r["connections"],
                errors=r["errors"] + r["mismatches"],
                rate=r["messages"] / args.duration, p50=r["p50_ns"], p99=r["p99_ns"], cpu=cpu)


def socklab_client(args, backend, port, conns, size, churn):
    cmd = [os.path.join(args.bin, "socklab"), "load", f"127.0.0.1:{port}", "-c", str(conns), "-s",
           str(size), "-d", f"{args.duration}s", "-t", "1", "--backend", backend, "--json", "-"]
    cmd += ["--churn", "1", "--source-ips", CHURN_SOURCES] if churn else []
    stdout, cpu = run_client(cmd)
    r = json.loads(stdout)
    errors = r["errors"]["total"]
    return dict(messages=r["messages"]["completed"], connections=r["connections"]["opened"],
                errors=errors, rate=r["throughput"]["messages_per_s"],
                p50=r["latency_ns"]["p50"], p99=r["latency_ns"]["p99"], cpu=cpu)


def server_cmd(args, variant):
    if variant == "baseline":
        return [os.path.join(args.bench, "baseline_echo_server"), "0"]
    if variant == "uring-baseline":
        return [os.path.join(args.bench, "baseline_uring_echo_server"), "0"]
    return [os.path.join(args.bin, "socklab-server"), "-l", "127.0.0.1:0", "--backend", variant,
            "-t", "1"]


def measure_server(args, variant, conns, size, churn):
    proc, port = start_server(server_cmd(args, variant))
    try:
        start = process_cpu_s(proc.pid)
        r = baseline_client(args, port, conns, size, churn)
        r["cpu"] = process_cpu_s(proc.pid) - start
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return r


def measure_client(args, variant, conns, size, churn):
    proc, port = start_server(server_cmd(args, "baseline"))
    try:
        if variant == "baseline":
            return baseline_client(args, port, conns, size, churn)
        if variant == "uring-baseline":
            return baseline_client(args, port, conns, size, churn,
                                   program="baseline_uring_pingpong_client")
        return socklab_client(args, variant, port, conns, size, churn)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CHURN_CELL = (50, 64, True)


def parse_cell(text):
    """"50x64" -> (50, 64, False); "churn" -> CHURN_CELL."""
    if text == "churn":
        return CHURN_CELL
    c, s = text.split("x")
    return (int(c), int(s), False)


def cells(args):
    if args.cells:
        return [parse_cell(cell) for cell in args.cells.split(",")]
    return [(c, s, False) for c in CONNECTIONS for s in SIZES] + [CHURN_CELL]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=os.path.join(here, "../../build/bin"))
    parser.add_argument("--bench", default=os.path.join(here, "../../build/bench"))
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cells", help="e.g. 50x64,500x16384,churn (default: all)")
    parser.add_argument("--markdown", help="also write the tables as markdown to this file")
    args = parser.parse_args()
    variants = {"server": ["baseline", "uring-baseline", "epoll", "io_uring"],
                "client": ["baseline", "uring-baseline", "epoll", "io_uring"]}
    runs = {}  # (side, cell, variant) -> [result, ...]
    for cell in cells(args):
        for rep in range(args.repeat):
            for side, measure in (("server", measure_server), ("client", measure_client)):
                turn = rep % len(variants[side])
                for variant in variants[side][turn:] + variants[side][:turn]:
                    r = measure(args, variant, *cell)
                    runs.setdefault((side, cell, variant), []).append(r)
                    per = r["cpu"] / max(r["messages"], 1) * 1e9
                    print(f"{side} {cell} {variant:<14} {rep + 1}/{args.repeat}: "
                          f"{r['rate']:>10,.0f} msg/s {per:>8,.0f} ns CPU/msg "
                          f"p50 {r['p50'] / 1e3:,.0f} us p99 {r['p99'] / 1e3:,.0f} us "
                          f"errors {r['errors']}", file=sys.stderr)
                    time.sleep(0.2)

    def values(side, cell, variant, key):
        """The figure of each run, in repetition order."""
        out = []
        for r in runs[(side, cell, variant)]:
            if key == "cpu_per":
                out.append(r["cpu"] / max(r["connections"] if cell[2] else r["messages"], 1))
            elif key == "rate" and cell[2]:
                out.append(r["connections"] / args.duration)
            else:
                out.append(r[key])
        return out

    def median(side, cell, variant, key):
        v = values(side, cell, variant, key)
        return statistics.median(v), min(v), max(v)

    def paired(side, cell, variant, key):
        """Min and max over the repetitions of the variant's figure over the baseline's in the
        same repetition: runs side by side see the same machine, so the pair's ratio drifts less
        than either figure, and a range that straddles 1.00 says the run cannot tell them apart."""
        ratios = [v / max(b, 1e-12) for v, b in zip(values(side, cell, variant, key),
                                                     values(side, cell, "baseline", key))]
        return min(ratios), max(ratios)

    lines = [f"machine: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} CPUs; "
             f"server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; {args.repeat} runs of "
             f"{args.duration:g} s per figure (median; spread min-max); ratios: of the medians "
             f"(min-max of each repetition's ratio to the baseline's run beside it)", ""]
    for side, under in (("server", "socklab-server -t 1 under baseline_pingpong_client"),
                        ("client", "socklab load -t 1 against baseline_echo_server")):
        lines += [f"### {side}: {under}", "",
                  "| cell | variant | msg/s (conn/s for churn) | ratio | CPU per msg (per conn) "
                  "| ratio | p50 | p99 | errors |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for cell in cells(args):
            name = "churn 50 x 64 B" if cell[2] else f"{cell[0]} x {cell[1]} B"
            base_rate = median(side, cell, "baseline", "rate")[0]
            base_cpu = median(side, cell, "baseline", "cpu_per")[0]
            for variant in variants[side]:
                rate, rlo, rhi = median(side, cell, variant, "rate")
                cpu, clo, chi = median(side, cell, variant, "cpu_per")
                rate_lo, rate_hi = paired(side, cell, variant, "rate")
                cpu_lo, cpu_hi = paired(side, cell, variant, "cpu_per")
                p50 = median(side, cell, variant, "p50")[0]
                p99 = median(side, cell, variant, "p99")[0]
                errors = sum(r["errors"] for r in runs[(side, cell, variant)])
                lines.append(
                    f"| {name} | {variant} | {rate:,.0f} ({rlo:,.0f}-{rhi:,.0f}) | "
                    f"{rate / max(base_rate, 1e-9):.2f} ({rate_lo:.2f}-{rate_hi:.2f}) | "
                    f"{cpu * 1e9:,.0f} ns ({clo * 1e9:,.0f}-{chi * 1e9:,.0f}) | "
                    f"{cpu / max(base_cpu, 1e-12):.2f} ({cpu_lo:.2f}-{cpu_hi:.2f}) | "
                    f"{p50 / 1e3:,.0f} us | "
                    f"{p99 / 1e3:,.0f} us | {errors} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
