#!/usr/bin/env bash
# scripts/load-over-ssh with a fake ssh and scp on PATH: each "host" runs its command in a mount
# namespace of its own whose /tmp is that host's directory (so the agents' results, all at the
# same /tmp path, stay apart as on real machines), against one socklab-server on loopback. The
# merged message count must equal the sum of the agents' and the server's own echoed bytes / 64.
#
# Usage: load_over_ssh_test.sh PROJECT_ROOT  (SOCKLAB_BIN_DIR: the built programs). Needs root
# (or unprivileged user namespaces) for unshare --mount; skips (exit 77) without.
set -euo pipefail
root=$1
bin=${SOCKLAB_BIN_DIR:?SOCKLAB_BIN_DIR is not set}
if ! unshare --mount --propagation private true 2>/dev/null; then
  echo "SKIP: no mount namespace (unshare --mount)"
  exit 77
fi
# Everything outside /tmp, which each fake host replaces with its own: in the working directory
# (ctest: the build tree), or in /var/tmp when that is itself under /tmp.
base=$PWD
[[ $base != /tmp && $base != /tmp/* ]] || base=/var/tmp
work=$(mktemp -d "$base/load-over-ssh.XXXXXX")
hosts_dir=$work
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -9 "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/fakebin"
cat > "$work/fakebin/ssh" <<FAKE
#!/usr/bin/env bash
# ssh [-o OPTION]... HOST COMMAND: COMMAND in a mount namespace whose /tmp is HOST's directory.
while [[ \$1 == -o ]]; do shift 2; done
host=\$1; shift
echo "\$host" >> "$hosts_dir/ssh.log"
mkdir -p "$hosts_dir/\$host"
exec unshare --mount --propagation private sh -c 'mount --bind "\$0" /tmp && exec sh -c "\$1"' "$hosts_dir/\$host" "\$*"
FAKE
cat > "$work/fakebin/scp" <<FAKE
#!/usr/bin/env bash
# scp [-q] [-o OPTION]... HOST:/tmp/PATH DEST
while [[ \$1 == -q || \$1 == -o ]]; do [[ \$1 == -o ]] && shift; shift; done
source=\$1 dest=\$2
host=\${source%%:*} path=\${source#*:}
exec cp "$hosts_dir/\$host/\${path#/tmp/}" "\$dest"
FAKE
chmod +x "$work/fakebin/ssh" "$work/fakebin/scp"
# The agents' socklab where the fake hosts see it (the build tree may be under /tmp).
mkdir -p "$work/bin"
cp "$bin/socklab" "$work/bin/socklab"

"$bin/socklab-server" -l 127.0.0.1:0 -t 1 --json --backend epoll > "$hosts_dir/server.out" 2> "$hosts_dir/server.err" &
server_pid=$!
port=""
for _ in $(seq 100); do
  port=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    event = json.loads(line)
    if event.get("event") == "listening":
        print(event["listen"].rsplit(":", 1)[1])
' "$hosts_dir/server.out" 2>/dev/null || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { echo "FAIL: the server did not start"; cat "$hosts_dir/server.err"; exit 1; }

PATH="$work/fakebin:$PATH" "$root/scripts/load-over-ssh" --start-in 3 --run-id ssh-test \
  --out "$hosts_dir/out" --remote-socklab "$work/bin/socklab" --local-socklab "$bin/socklab" \
  alpha beta gamma -- "127.0.0.1:$port" -c 5 -n 3001 -d 20s -t 1 > "$hosts_dir/merge.txt"

kill -TERM "$server_pid"
wait "$server_pid" || { echo "FAIL: the server did not exit 0"; exit 1; }
server_pid=""

python3 - "$hosts_dir" <<'CHECK'
import json, os, sys
d = sys.argv[1]
summary = [json.loads(l) for l in open(os.path.join(d, "server.out"))][-1]
assert summary.get("event") == "summary", summary
merged = json.load(open(os.path.join(d, "out", "merged.json")))
agents = [json.load(open(os.path.join(d, "out", "agent-%d.json" % i))) for i in range(3)]
hosts = open(os.path.join(d, "ssh.log")).read().split()
assert sorted(hosts) == ["alpha", "beta", "gamma"], hosts
assert [a["config"]["shard"]["index"] for a in agents] == [0, 1, 2]
assert all(a["run_id"] == "ssh-test" for a in agents)
completed = [a["messages"]["completed"] for a in agents]
assert completed == [1001, 1000, 1000], completed
assert [a["config"]["connections"] for a in agents] == [2, 2, 1]
assert merged["messages"]["completed"] == sum(completed) == 3001, merged["messages"]
assert summary["bytes_out"] == 3001 * 64, summary
assert summary["accepted"] == 5 == merged["connections"]["opened"], summary
assert merged["latency_ns"]["count"] == 3001
assert merged["latency_ns"]["max"] == max(a["latency_ns"]["max"] for a in agents)
print("PASS: 3 hosts, 3001 messages merged, the server echoed 3001 x 64 bytes")
CHECK
