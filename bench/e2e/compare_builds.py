#!/usr/bin/env python3
"""Two builds of socklab against each other: what one change bought, measured in one session.

Runs compare_baseline.py's measurement (the program under test pinned to one CPU, its bench/baseline
peer to the other, the whole process's CPU over its messages) for a "before" and an "after" build,
alternating which goes first every repetition, and prints the after/before ratios of the medians.
A change's effect is often a few percent, less than this VM's drift between runs of the full
comparison: alternated in one session, the two builds see the same machine. Run by hand, on a quiet
machine, with the "before" build elsewhere (e.g. `git worktree add ../before HEAD~1` and
`BUILD_DIR=../before/build scripts/build`):

    bench/e2e/compare_builds.py --before ../before/build/bin --after build/bin
        [--bench build/bench] [--cells server:50x64,client:churn] [--backends epoll,io_uring]
        [--duration 2] [--repeat 3]
"""
import argparse
import os
import statistics
import sys
import time

import compare_baseline


def parse_cells(text):
    """Parses "server:50x64,client:churn" into
    [("server", 50, 64, False), ("client", 50, 64, True)]."""
    cells = []
    for item in text.split(","):
        side, _, cell = item.partition(":")
        try:
            if side not in ("server", "client"):
                raise ValueError(side)
            cells.append((side, *compare_baseline.parse_cell(cell)))
        except ValueError:
            print(f"compare_builds.py: --cells: '{item}' is not SIDE:CONNSxSIZE or SIDE:churn "
                  "(e.g. server:50x64)", file=sys.stderr)
            sys.exit(2)
    return cells


def cell_name(conns, size, churn):
    return "churn" if churn else f"{conns} x {size} B"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="bin directory of the build before")
    parser.add_argument("--after", required=True, help="bin directory of the build after")
    parser.add_argument("--bench", default=os.path.join(here, "../../build/bench"))
    parser.add_argument("--cells", default="server:50x64,server:500x64,server:50x16384,"
                        "client:50x64,client:500x16384")
    parser.add_argument("--backends", default="epoll,io_uring")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    builds = [("before", args.before), ("after", args.after)]
    runs = {}  # (side, conns, size, churn, backend, build) -> [(msg/s, CPU ns per message), ...]
    for rep in range(args.repeat):
        order = builds if rep % 2 == 0 else builds[::-1]
        for side, conns, size, churn in parse_cells(args.cells):
            measure = (compare_baseline.measure_server if side == "server"
                       else compare_baseline.measure_client)
            for backend in args.backends.split(","):
                for label, bin_dir in order:
                    run_args = argparse.Namespace(bin=bin_dir, bench=args.bench,
                                                  duration=args.duration)
                    r = measure(run_args, backend, conns, size, churn)
                    per = r["cpu"] / max(r["messages"], 1) * 1e9
                    runs.setdefault((side, conns, size, churn, backend, label), []).append(
                        (r["rate"], per))
                    print(f"{side} {cell_name(conns, size, churn)} {backend} {label} "
                          f"{rep + 1}/{args.repeat}: {r['rate']:,.0f} msg/s, "
                          f"{per:,.0f} ns CPU/msg, errors {r['errors']}", file=sys.stderr)
                    time.sleep(0.2)

    print(f"{args.repeat} runs of {args.duration:g} s per figure, medians; after/before")
    print("| side | cell | backend | CPU per msg (per conn for churn) before | after | ratio "
          "| msg/s (conn/s) before | after | ratio |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for side, conns, size, churn in parse_cells(args.cells):
        for backend in args.backends.split(","):
            figures = {}
            for label, _ in builds:
                samples = runs[(side, conns, size, churn, backend, label)]
                figures[label] = (statistics.median(s[0] for s in samples),
                                  statistics.median(s[1] for s in samples))
            (rate_b, cpu_b), (rate_a, cpu_a) = figures["before"], figures["after"]
            print(f"| {side} | {cell_name(conns, size, churn)} | {backend} | {cpu_b:,.0f} ns | "
                  f"{cpu_a:,.0f} ns | {cpu_a / cpu_b:.3f} | {rate_b:,.0f} | {rate_a:,.0f} | "
                  f"{rate_a / rate_b:.3f} |")


if __name__ == "__main__":
    main()
