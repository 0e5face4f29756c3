#!/usr/bin/env bash
# bench/e2e/compare_baseline.py on one connection x 1000 B and on churn, one short run per
# variant: the comparison must run every program to its end, and each row must show messages
# moving with no error and no echo that differed from what was sent (the baseline client checks
# every byte, socklab load counts data errors). A yardstick that broke would otherwise surface
# only when someone reran the benchmark. It runs in a network namespace of its own: the churn
# cell leaves tens of thousands of TIME_WAIT sockets behind, which must not land among the sockets
# other suites count.
#
# Usage: compare_baseline_test.sh PROJECT_ROOT BIN_DIR BENCH_DIR  (needs unshare --net; skips,
# exit 77, without)
set -euo pipefail
root=$1 bin=$2 bench=$3
if ! unshare --net true 2>/dev/null; then
  echo "SKIP: no network namespace (unshare --net)"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
unshare --net bash -c 'ip link set lo up && exec "$@"' _ \
  python3 "$root/bench/e2e/compare_baseline.py" --bin "$bin" --bench "$bench" --duration 0.3 \
  --repeat 1 --cells 1x1000,churn --markdown "$out" >/dev/null
# Rows: | cell | variant | msg/s (...) | ratio | CPU | ratio | p50 | p99 | errors |
rows=$(grep -c '^| [0-9c].* B |' "$out" || true)
if [[ $rows != 16 ]]; then  # 2 cells x (4 server + 4 client variants)
  echo "FAIL: expected 16 rows, got $rows:"
  cat "$out"
  exit 1
fi
awk -F'|' '/^\| [0-9c].* B \|/ {
  rate = $4; gsub(/[ ,]|\(.*/, "", rate);
  errors = $10; gsub(/ /, "", errors);
  if (rate + 0 <= 0 || errors != "0") { print "FAIL:" $0; bad = 1 }
} END { exit bad }' "$out"
echo "PASS: $rows rows, every one with messages and no error"
